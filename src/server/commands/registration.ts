import { registrationToArgs } from '../../protocol/index.js';
import type { RegistrationRequest } from '../../core/ports/store.js';
import { requestRegistration } from '../../core/services/registration.js';
import { flag, optionalText, requireEmail, requireText, requireUsername } from '../validation.js';
import { open, type Command } from './types.js';

export function toRegistrationRecord(r: RegistrationRequest) {
  return registrationToArgs({ ...r, reason: r.reason, fromAddress: r.fromAddress });
}

export const registrationCommands: Command[] = [
  open(
    'REGISTER',
    'REGISTER institution= contact= email= [phone=] [address=] username= [wait=1] — asks to become a member',
    async (ctx, args) => {
      const input = {
        institution: requireText(args, 'institution', 200, 'Institution name'),
        contact: requireText(args, 'contact', 200, 'Contact person'),
        email: requireEmail(args),
        phone: optionalText(args, 'phone', 50, 'Phone'),
        address: optionalText(args, 'address', 500, 'Address'),
        username: requireUsername(args),
        fromAddress: ctx.conn.remoteAddress || null,
      };
      const { config, diskFloor } = ctx.services;
      const request = await requestRegistration({ store: ctx.services.store, reserveDisk: (bytes, what) => diskFloor.reserve(bytes, what) }, input, {
        maxPendingFromAddress: config.maxPendingRegistrationsPerAddress,
        ...(config.maxPendingRegistrations > 0 ? { maxPending: config.maxPendingRegistrations } : {}),
      });
      ctx.log.info({ requestId: request.id, username: request.username }, 'registration requested');
      ctx.services.router.pushToAdmins('REGISTRATION', toRegistrationRecord(request));
      const wait = flag(args, 'wait');
      if (wait) ctx.services.router.awaitRegistration(request.id, ctx.conn);
      return { id: request.id, status: request.status, waiting: wait ? 1 : 0 };
    },
  ),
];

import { SiarError } from '../../protocol/index.js';
import { credentialsMail, rejectionMail } from '../mail/templates.js';
import { generatePassword, hashPassword } from '../secrets.js';
import { type RegistrationRequest, type RegistrationStatus, type User } from '../../core/ports/store.js';
import { approveRegistration, rejectRegistration, type DecisionPorts } from '../../core/services/registration.js';
import { pageFrom, requireId, requireText, requireUsername } from '../../protocol/arguments.js';
import { toRegistrationRecord } from './registration.js';
import { authed, type AuthedContext, type Command, type Services } from './types.js';
import { SUSPENDED_SENTENCE } from '../local-connections.js';

/** What the administrator sees of a member: who, its standing, and its storage and sending against the limits (0: none). */
function memberArgs(u: User, services: Services, storedBytes: number, online: boolean, sentLastMinute: number) {
  const { config, sendRate } = services;
  return {
    username: u.username, institution: u.institution, contact: u.contact, email: u.email, phone: u.phone,
    address: u.address, status: u.status, createdAt: u.createdAt, lastLoginAt: u.lastLoginAt ?? '',
    lastLoginAddress: u.lastLoginAddress ?? '', online: online ? 1 : 0,
    storedBytes, quotaBytes: config.memberQuotaBytes, sentLastMinute, maxSendsPerMinute: sendRate.perMinute,
  };
}

async function memberByName(ctx: AuthedContext, username: string): Promise<User> {
  const user = await ctx.services.store.getUserByUsername(username);
  if (!user || user.role !== 'member') throw new SiarError('NOT_FOUND', `No member named ${username}.`);
  return user;
}

const STATUSES: ReadonlyArray<RegistrationStatus | 'all'> = ['pending', 'approved', 'rejected', 'expired', 'all'];

export const adminCommands: Command[] = [
  authed('PENDING', 'admin', 'PENDING [status=pending|approved|rejected|all] [limit=] [before=] — registration requests', async (ctx, args) => {
    const status = (args.get('status') ?? 'pending') as RegistrationStatus | 'all';
    if (!STATUSES.includes(status)) throw new SiarError('BAD_ARGUMENT', `status must be one of ${STATUSES.join(', ')}.`);
    const requests = await ctx.services.store.listRegistrations(status, pageFrom(args, ctx.services.config.maxPageSize, 200));
    for (const r of requests) ctx.item(toRegistrationRecord(r));
    return { count: requests.length };
  }),

  authed('APPROVE', 'admin', 'APPROVE id= — creates the member and mails its credentials', async (ctx, args) => {
    const { router } = ctx.services;
    const requestId = requireId(args);
    const result = await approveRegistration(decisionPorts(ctx), ctx.auth.user, requestId);
    ctx.services.mail.kick();
    const { request } = result;
    ctx.log.info({ requestId, username: request.username, mailId: result.mailId }, 'registration approved');
    router.pushToRegistrant(requestId, 'DECISION', { id: requestId, status: 'approved', username: request.username });
    router.pushToAdmins('DECIDED', { id: requestId, status: 'approved', username: request.username });
    return { id: requestId, status: 'approved', username: request.username, email: request.email, mailId: result.mailId };
  }),

  authed('REJECT', 'admin', 'REJECT id= reason= — refuses a registration request and tells the registrant why', async (ctx, args) => {
    const { router } = ctx.services;
    const requestId = requireId(args);
    const reason = requireText(args, 'reason', 1000, 'Reason');
    const { request, mailId } = await rejectRegistration(decisionPorts(ctx), ctx.auth.user, requestId, reason);
    ctx.services.mail.kick();
    ctx.log.info({ requestId, username: request.username }, 'registration rejected');
    router.pushToRegistrant(requestId, 'DECISION', { id: requestId, status: 'rejected', reason });
    router.pushToAdmins('DECIDED', { id: requestId, status: 'rejected', username: request.username });
    return { id: requestId, status: 'rejected', mailId };
  }),

  authed('MEMBERS', 'admin', 'MEMBERS [q=TEXT] — members with status, last login, storage used and messages sent in the last minute', async (ctx, args) => {
    const q = args.get('q')?.toLowerCase();
    const members = (await ctx.services.store.listMembers()).filter(
      (u) => !q || u.username.includes(q) || u.institution.toLowerCase().includes(q) || u.email.includes(q),
    );
    const usage = await ctx.services.store.storageUsage();
    const online = await ctx.services.router.onlineAmong(members.map((u) => u.id));
    const sent = await ctx.services.sendRate.lastMinute(members.map((u) => u.id));
    for (const u of members) ctx.item(memberArgs(u, ctx.services, usage.get(u.id) ?? 0, online.has(u.id), sent.get(u.id) ?? 0));
    return { count: members.length };
  }),

  authed('SUSPEND', 'admin', 'SUSPEND username= — blocks a member and closes its live sessions at once', async (ctx, args) => {
    const { store, router } = ctx.services;
    const user = await memberByName(ctx, requireUsername(args));
    await store.setUserStatus(user.id, 'suspended');
    const sessions = await store.closeUserSessions(user.id);
    const connections = await router.disconnectUser(user.id, 'SESSION_CLOSED', SUSPENDED_SENTENCE);
    router.memberChanged(user.id, 'suspended');
    await store.audit({ kind: 'member_suspended', actorId: ctx.auth.user.id, subject: user.username, address: ctx.conn.remoteAddress });
    return { username: user.username, status: 'suspended', sessions, connections };
  }),

  authed('REACTIVATE', 'admin', 'REACTIVATE username= — lifts a suspension', async (ctx, args) => {
    const user = await memberByName(ctx, requireUsername(args));
    await ctx.services.store.setUserStatus(user.id, 'active');
    ctx.services.router.memberChanged(user.id, 'reactivated');
    await ctx.services.store.audit({ kind: 'member_reactivated', actorId: ctx.auth.user.id, subject: user.username, address: ctx.conn.remoteAddress });
    return { username: user.username, status: 'active' };
  }),

  authed('ONLINE', 'admin', 'ONLINE — who is connected now, from where, since when', async (ctx) => {
    const { router } = ctx.services;
    // Redis unreachable: this node's members, and a sentence saying the others' are unknown.
    const { entries: online, complete } = await router.onlineAsKnown();
    for (const o of online) {
      const first = o.connections[0];
      ctx.item({
        username: o.username, connections: o.connections.length,
        address: o.connections.map((c) => c.address), since: first?.since ?? '',
      });
    }
    const reply = { count: online.length, connections: router.connectionCount() };
    return complete ? reply : { ...reply, partial: 1, note: partialOnlineNote(router.local.node) };
  }),
];

/** What a decision needs of the server: the store, new passwords, the mails' text sealed for the queue. */
function decisionPorts(ctx: AuthedContext): DecisionPorts {
  const { store, mail } = ctx.services;
  const sealed = (kind: string, to: string, m: { subject: string; text: string }) => ({ kind, to, subject: m.subject, sealedText: mail.seal(m.text) });
  return {
    store,
    newPassword: async () => {
      const password = generatePassword();
      return { password, hash: await hashPassword(password) };
    },
    credentialsMail: (r: RegistrationRequest, password: string) =>
      sealed('credentials', r.email, credentialsMail({ institution: r.institution, contact: r.contact, username: r.username, password })),
    rejectionMail: (r: RegistrationRequest, reason: string) =>
      sealed('rejection', r.email, rejectionMail({ institution: r.institution, contact: r.contact, username: r.username, reason })),
  };
}

/** ONLINE's sentence while Redis (presence) is unreachable. */
export function partialOnlineNote(node: string): string {
  return `Only the members connected to this node (${node}) are listed: the cluster-wide view is unavailable while the server cannot reach Redis.`;
}

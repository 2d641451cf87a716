/**
 * Registration, the rules (seed flows 1-2): a request is recorded (the name "admin" is reserved;
 * the disk's floor and the pending caps are respected) and audited; the administrator's decision
 * makes its mail before the store's transaction (nothing of ours runs inside it), and the store
 * refuses a request decided meanwhile. The handlers (src/server/commands/registration.ts, admin.ts)
 * read the arguments, call these, tell the registrant and the consoles, and answer.
 */
import { SiarError } from '../../protocol/index.js';
import type { AuditStore } from '../ports/store/audit.js';
import type { OutgoingMail } from '../ports/store/mail.js';
import type { AccountStore, RegistrationInput, RegistrationRequest, User } from '../ports/store.js';
import { notFound } from '../ports/store/errors.js';

export interface RegistrationPorts {
  store: AccountStore & AuditStore;
  /** Refuses (DISK_FULL) a write that would leave less than the free-space floor. */
  reserveDisk(bytes: number, what: string): Promise<void>;
}

/** REGISTER: the pending request, recorded and audited. */
export async function requestRegistration(
  ports: RegistrationPorts, input: RegistrationInput, limits: { maxPendingFromAddress?: number; maxPending?: number },
): Promise<RegistrationRequest> {
  if (input.username === 'admin') throw new SiarError('DUPLICATE_USERNAME', 'The username "admin" is reserved.');
  await ports.reserveDisk(Buffer.byteLength(JSON.stringify(input)), 'your registration request');
  // A taken name or too many waiting: the store's refusal answers (core/wire-errors.ts).
  const request = await ports.store.createRegistration(input, limits);
  await ports.store.audit({
    kind: 'registration_requested', subject: request.username, address: input.fromAddress,
    detail: { requestId: request.id, institution: request.institution },
  });
  return request;
}

export interface DecisionPorts {
  store: AccountStore;
  /** A new member's password and its hash. */
  newPassword(): Promise<{ password: string; hash: string }>;
  /** The mails of a decision, sealed for the queue. */
  credentialsMail(request: RegistrationRequest, password: string): OutgoingMail;
  rejectionMail(request: RegistrationRequest, reason: string): OutgoingMail;
}

/** The request an APPROVE or REJECT decides, read before the decision to write its mail. */
async function requestToDecide(store: AccountStore, id: number): Promise<RegistrationRequest> {
  const request = await store.getRegistration(id);
  if (!request) throw notFound('registration', id);
  return request;
}

/** APPROVE: creates the member and queues its credentials, in one transaction. */
export async function approveRegistration(
  ports: DecisionPorts, admin: User, requestId: number,
): Promise<{ request: RegistrationRequest; user: User; mailId: number }> {
  const r = await requestToDecide(ports.store, requestId);
  const { password, hash } = await ports.newPassword();
  return ports.store.approveRegistration({ requestId, adminId: admin.id, passwordHash: hash, mail: ports.credentialsMail(r, password) });
}

/** REJECT: marks the request rejected and queues the notice, in one transaction. */
export async function rejectRegistration(
  ports: DecisionPorts, admin: User, requestId: number, reason: string,
): Promise<{ request: RegistrationRequest; mailId: number }> {
  const r = await requestToDecide(ports.store, requestId);
  return ports.store.rejectRegistration({ requestId, adminId: admin.id, reason, mail: ports.rejectionMail(r, reason) });
}

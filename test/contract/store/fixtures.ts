/** What the contract tests share besides the adapters: the time format and a few helpers. */
import type { Test } from 'tap';
import type { NewMessage, OutgoingMail, RegistrationInput, RegistrationRequest, Store, User } from '../../../src/core/ports/store.js';
import type { StoreAdapter } from './adapters.js';

/** Every time a store returns: ISO 8601, UTC, milliseconds ('2026-01-02T03:04:05.678Z'). */
export const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An instant strictly between what happened before the call and what happens after it. */
export async function instantBetween(): Promise<string> {
  await sleep(5);
  const at = new Date().toISOString();
  await sleep(5);
  return at;
}

/** An ISO time an hour from now (a session's expiry, a retry that is not due yet). */
export const inOneHour = (): string => new Date(Date.now() + 3600_000).toISOString();

export function registration(username: string, overrides: Partial<RegistrationInput> = {}): RegistrationInput {
  return {
    institution: `Institution of ${username}`,
    contact: `Contact ${username}`,
    email: `${username}@example.org`,
    phone: '+1 555 0100',
    address: '1 Main Street',
    username,
    fromAddress: '192.0.2.10',
    ...overrides,
  };
}

export function credentialsMail(request: RegistrationRequest): OutgoingMail {
  return { kind: 'credentials', to: request.email, subject: 'Your siar account', sealedText: `sealed:${request.username}` };
}

export async function adminOf(store: Store): Promise<User> {
  await store.ensureAdmin('admin-hash');
  const admin = await store.getUserByUsername('admin');
  if (admin === null) throw new Error('no admin');
  return admin;
}

/** Members created the way the server creates them: registration, then approval. */
export async function seedMembers(store: Store, usernames: string[]): Promise<User[]> {
  const admin = await adminOf(store);
  const users: User[] = [];
  for (const username of usernames) {
    const request = await store.createRegistration(registration(username));
    const { user } = await store.approveRegistration({
      requestId: request.id,
      adminId: admin.id,
      passwordHash: `hash-${username}`,
      mail: credentialsMail(request),
    });
    users.push(user);
  }
  return users;
}

/** A fresh store with alice (the sender), bob and carol, and a plain message from alice to some of them. */
export async function senderAndRecipients(t: Test, adapter: StoreAdapter, defaultSubject: string) {
  const store = await adapter.open(t);
  const [alice, bob, carol] = (await seedMembers(store, ['alice', 'bob', 'carol'])) as [User, User, User];
  const message = (recipients: User[], subject = defaultSubject): NewMessage => ({
    senderId: alice.id, audience: 'list', recipientIds: recipients.map((r) => r.id), subject, body: `body of ${subject}`,
  });
  return { store, alice, bob, carol, message };
}

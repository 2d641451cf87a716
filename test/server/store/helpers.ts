/**
 * Test helpers for the store tests: a real SQLite file in a temp dir, and a few seeded members
 * (adminOf, seedMembers and the records work on any Store: the contract suite uses them too).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Test } from 'tap';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.js';
import type { OutgoingMail, RegistrationInput, RegistrationRequest, Store, User } from '../../../src/core/ports/store.js';

/** A fresh directory under the OS temp dir, removed when the test ends. */
export function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'siar-store-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Opens a store on a new file (in a not-yet-existing subdirectory, as open() must create it). */
export function openStore(t: Test): { store: SqliteStore; file: string } {
  const file = join(tempDir(t), 'data', 'siar.db');
  const store = SqliteStore.open(file);
  t.teardown(() => store.close());
  return { store, file };
}

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
      mail: credentialsMail,
    });
    users.push(user);
  }
  return users;
}

import t from 'tap';
import { SiarError } from '../../../src/protocol/errors.js';
import { conflictFromSqliteError } from '../../../src/server/store/sqlite-store.js';
import { StoreConflict, type RegistrationRequest } from '../../../src/server/store/types.js';
import { adminOf, credentialsMail, openStore, registration, seedMembers } from './helpers.js';

const conflictOn = (field: 'username' | 'email') => ({ name: 'StoreConflict', field });
const count = (store: { db: import('better-sqlite3').Database }, table: string): number =>
  store.db.prepare<[], number>(`SELECT count(*) FROM ${table}`).pluck().get()!;

t.test('a new request is stored as pending with what was submitted', async (t) => {
  const { store } = openStore(t);
  const request = await store.createRegistration(registration('alice'));
  t.match(request, {
    username: 'alice',
    email: 'alice@example.org',
    institution: 'Institution of alice',
    fromAddress: '192.0.2.10',
    status: 'pending',
    reason: null,
    decidedAt: null,
    userId: null,
  });
  t.match(request.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.strictSame(await store.getRegistration(request.id), request);
  t.equal(await store.getRegistration(request.id + 1), null);
});

t.test('a username that belongs to a user cannot be requested', async (t) => {
  const { store } = openStore(t);
  await seedMembers(store, ['alice']);
  await t.rejects(store.createRegistration(registration('alice', { email: 'other@example.org' })), conflictOn('username'));
});

t.test('a username held by a pending request cannot be requested again', async (t) => {
  const { store } = openStore(t);
  await store.createRegistration(registration('alice'));
  await t.rejects(store.createRegistration(registration('alice', { email: 'other@example.org' })), conflictOn('username'));
});

t.test('an e-mail address that belongs to a user cannot be requested', async (t) => {
  const { store } = openStore(t);
  await seedMembers(store, ['alice']);
  await t.rejects(store.createRegistration(registration('bob', { email: 'alice@example.org' })), conflictOn('email'));
});

t.test('an e-mail address held by a pending request cannot be requested again', async (t) => {
  const { store } = openStore(t);
  await store.createRegistration(registration('alice'));
  await t.rejects(store.createRegistration(registration('bob', { email: 'alice@example.org' })), conflictOn('email'));
});

t.test('a rejected request frees its username and e-mail address', async (t) => {
  const { store } = openStore(t);
  const admin = await adminOf(store);
  const first = await store.createRegistration(registration('alice'));
  await store.rejectRegistration({ requestId: first.id, adminId: admin.id, reason: 'unknown', mail: credentialsMail });
  const second = await store.createRegistration(registration('alice'));
  t.equal(second.status, 'pending');
  t.not(second.id, first.id);
});

t.test('approving creates the member, marks the request, queues the mail and audits, together', async (t) => {
  const { store } = openStore(t);
  const admin = await adminOf(store);
  const pending = await store.createRegistration(registration('alice'));
  let seen: RegistrationRequest | undefined;
  const { request, user, mailId } = await store.approveRegistration({
    requestId: pending.id,
    adminId: admin.id,
    passwordHash: 'hash-alice',
    mail: (r) => {
      seen = r;
      return credentialsMail(r);
    },
  });

  t.match(user, {
    username: 'alice',
    role: 'member',
    status: 'active',
    mustChangePassword: true,
    passwordHash: 'hash-alice',
    institution: 'Institution of alice',
    contact: 'Contact alice',
    email: 'alice@example.org',
    phone: '+1 555 0100',
    address: '1 Main Street',
    lastLoginAt: null,
  });
  t.strictSame(await store.getUserByUsername('alice'), user);
  t.match(request, { id: pending.id, status: 'approved', userId: user.id, reason: null });
  t.type(request.decidedAt, 'string');
  t.strictSame(seen, request, 'the mail callback sees the approved request');
  t.strictSame(await store.getRegistration(pending.id), request);
  t.equal(store.db.prepare('SELECT decided_by FROM registration_requests WHERE id = ?').pluck().get(pending.id), admin.id);

  const mail = await store.getMail(mailId);
  t.match(mail, { kind: 'credentials', to: 'alice@example.org', sealedText: 'sealed:alice', attempts: 0, sentAt: null });
  t.equal(mail?.nextAttemptAt, mail?.createdAt, 'due at once');

  const [event] = await store.listAudit({ kind: 'registration_approved' }, { limit: 10 });
  t.match(event, { actorId: admin.id, subject: 'alice', detail: { requestId: pending.id, userId: user.id } });
});

t.test('a request can be decided only once', async (t) => {
  const { store } = openStore(t);
  const admin = await adminOf(store);
  const pending = await store.createRegistration(registration('alice'));
  const approve = { requestId: pending.id, adminId: admin.id, passwordHash: 'h', mail: credentialsMail };
  await store.approveRegistration(approve);
  await t.rejects(store.approveRegistration(approve), { name: 'SiarError', code: 'ALREADY_DECIDED' });
  await t.rejects(store.rejectRegistration({ ...approve, reason: 'no' }), { code: 'ALREADY_DECIDED' });
  t.equal(count(store, 'users'), 2, 'admin and alice only');
  t.equal(count(store, 'mail_queue'), 1);
});

t.test('deciding a request that does not exist is NOT_FOUND', async (t) => {
  const { store } = openStore(t);
  const admin = await adminOf(store);
  const err: unknown = await store
    .approveRegistration({ requestId: 42, adminId: admin.id, passwordHash: 'h', mail: credentialsMail })
    .catch((e: unknown) => e);
  t.ok(err instanceof SiarError, 'a SiarError the server can send as is');
  t.match(err, { code: 'NOT_FOUND' });
  await t.rejects(store.rejectRegistration({ requestId: 42, adminId: admin.id, reason: 'r', mail: credentialsMail }), {
    code: 'NOT_FOUND',
  });
});

t.test('a mail callback that throws leaves the request pending and creates nothing', async (t) => {
  const { store } = openStore(t);
  const admin = await adminOf(store);
  const pending = await store.createRegistration(registration('alice'));
  const failing = (): never => {
    throw new Error('cannot seal');
  };
  await t.rejects(
    store.approveRegistration({ requestId: pending.id, adminId: admin.id, passwordHash: 'h', mail: failing }),
    /cannot seal/,
  );
  await t.rejects(
    store.rejectRegistration({ requestId: pending.id, adminId: admin.id, reason: 'r', mail: failing }),
    /cannot seal/,
  );
  t.strictSame(await store.getRegistration(pending.id), pending);
  t.equal(await store.getUserByUsername('alice'), null);
  t.equal(count(store, 'mail_queue'), 0);
  t.equal(count(store, 'audit_events'), 0);
});

t.test('rejecting records the reason, queues the notice and audits, and creates no user', async (t) => {
  const { store } = openStore(t);
  const admin = await adminOf(store);
  const pending = await store.createRegistration(registration('alice'));
  const { request, mailId } = await store.rejectRegistration({
    requestId: pending.id,
    adminId: admin.id,
    reason: 'unknown institution',
    mail: (r) => ({ kind: 'rejection', to: r.email, subject: 'Request declined', sealedText: `sealed:${r.reason}` }),
  });
  t.match(request, { status: 'rejected', reason: 'unknown institution', userId: null });
  t.type(request.decidedAt, 'string');
  t.match(await store.getMail(mailId), { kind: 'rejection', sealedText: 'sealed:unknown institution' });
  t.equal(await store.getUserByUsername('alice'), null);
  const [event] = await store.listAudit({ kind: 'registration_rejected' }, { limit: 10 });
  t.match(event, { actorId: admin.id, subject: 'alice', detail: { requestId: pending.id, reason: 'unknown institution' } });
});

t.test('approving is refused when the username or e-mail was taken after the request', async (t) => {
  const { store } = openStore(t);
  // Requested before the admin account exists; ensureAdmin then takes the username.
  const forAdmin = await store.createRegistration(registration('admin'));
  const admin = await adminOf(store);
  await t.rejects(
    store.approveRegistration({ requestId: forAdmin.id, adminId: admin.id, passwordHash: 'h', mail: credentialsMail }),
    conflictOn('username'),
  );

  const bob = await store.createRegistration(registration('bob'));
  store.db
    .prepare(`INSERT INTO users (username, role, password_hash, email, created_at) VALUES (?, 'member', 'x', ?, ?)`)
    .run('robert', 'bob@example.org', new Date().toISOString());
  await t.rejects(
    store.approveRegistration({ requestId: bob.id, adminId: admin.id, passwordHash: 'h', mail: credentialsMail }),
    conflictOn('email'),
  );
  t.equal((await store.getRegistration(bob.id))?.status, 'pending');
});

t.test('a uniqueness race reported by SQLite becomes a StoreConflict on the right field', async (t) => {
  const { store } = openStore(t);
  await store.createRegistration(registration('alice'));
  const insert = store.db.prepare(
    `INSERT INTO registration_requests (institution, contact, email, username, created_at)
     VALUES ('i', 'c', ?, ?, 'now')`,
  );
  const caught = (work: () => unknown): unknown => {
    try {
      work();
    } catch (err) {
      return err;
    }
    return undefined;
  };
  const byUsername = conflictFromSqliteError(caught(() => insert.run('new@example.org', 'alice')));
  t.ok(byUsername instanceof StoreConflict);
  t.equal(byUsername?.field, 'username');
  t.equal(conflictFromSqliteError(caught(() => insert.run('alice@example.org', 'newname')))?.field, 'email');
  t.equal(conflictFromSqliteError(new Error('UNIQUE constraint failed: users.username')), null, 'only SQLite errors');
});

t.test('pending requests list oldest first and page with beforeId; all lists newest first', async (t) => {
  const { store } = openStore(t);
  const admin = await adminOf(store);
  const ids: number[] = [];
  for (const name of ['r1', 'r2', 'r3', 'r4']) ids.push((await store.createRegistration(registration(name))).id);
  await store.rejectRegistration({ requestId: ids[1]!, adminId: admin.id, reason: 'no', mail: credentialsMail });

  const names = (list: RegistrationRequest[]): string[] => list.map((r) => r.username);
  t.strictSame(names(await store.listRegistrations('pending', { limit: 10 })), ['r1', 'r3', 'r4']);
  t.strictSame(names(await store.listRegistrations('pending', { limit: 2 })), ['r1', 'r3']);
  t.strictSame(names(await store.listRegistrations('pending', { limit: 10, beforeId: ids[3]! })), ['r1', 'r3']);
  t.strictSame(names(await store.listRegistrations('rejected', { limit: 10 })), ['r2']);
  t.strictSame(names(await store.listRegistrations('all', { limit: 3 })), ['r4', 'r3', 'r2']);
  t.strictSame(names(await store.listRegistrations('all', { limit: 3, beforeId: ids[1]! })), ['r1']);
});

/**
 * What only the SQLite store can be asked (behaviour every store shares is in test/contract/store/):
 * columns the interface does not return, a user written behind the store's back, and SQLite's own
 * constraint errors mapped to conflict StoreErrors.
 */
import t from 'tap';
import { conflictFromSqliteError } from '../../../src/adapters/sqlite/sqlite-store.js';
import { isStoreError } from '../../../src/core/ports/store.js';
import { adminOf, credentialsMail, openStore, registration } from './helpers.js';

t.test('an approval records the deciding admin in the request row', async (t) => {
  const { store } = openStore(t);
  const admin = await adminOf(store);
  const pending = await store.createRegistration(registration('alice'));
  await store.approveRegistration({ requestId: pending.id, adminId: admin.id, passwordHash: 'h', mail: credentialsMail(pending) });
  t.equal(store.db.prepare('SELECT decided_by FROM registration_requests WHERE id = ?').pluck().get(pending.id), admin.id);
});

t.test('approving is refused when a user with the e-mail was written after the request', async (t) => {
  const { store } = openStore(t);
  const admin = await adminOf(store);
  const bob = await store.createRegistration(registration('bob'));
  store.db
    .prepare(`INSERT INTO users (username, role, password_hash, email, created_at) VALUES (?, 'member', 'x', ?, ?)`)
    .run('robert', 'bob@example.org', new Date().toISOString());
  await t.rejects(
    store.approveRegistration({ requestId: bob.id, adminId: admin.id, passwordHash: 'h', mail: credentialsMail(bob) }),
    { name: 'StoreError', kind: 'conflict', failure: { field: 'email' } },
  );
  t.equal((await store.getRegistration(bob.id))?.status, 'pending');
});

t.test('a uniqueness race reported by SQLite becomes a conflict StoreError on the right field', async (t) => {
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
  t.ok(isStoreError(byUsername, 'conflict'));
  t.equal(byUsername?.failure.field, 'username');
  t.equal(conflictFromSqliteError(caught(() => insert.run('alice@example.org', 'newname')))?.failure.field, 'email');
  t.equal(conflictFromSqliteError(new Error('UNIQUE constraint failed: users.username')), null, 'only SQLite errors');
});

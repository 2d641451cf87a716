/**
 * What only the SQLite store does (behaviour every store shares is in test/contract/store/): its
 * read cache of users and sessions, and a member written behind its back under the name admin.
 */
import t from 'tap';
import { adminOf, openStore, seedMembers } from './helpers.js';

t.test('ensureAdmin refuses to run when a member already holds the name admin', async (t) => {
  const { store } = openStore(t);
  store.db
    .prepare(`INSERT INTO users (username, role, password_hash, created_at) VALUES ('admin', 'member', 'x', 'now')`)
    .run();
  await t.rejects(store.ensureAdmin('h'), /username "admin" belongs to a member/);
});

t.test('reads are cached, and every write to a user or a session shows in the next read', async (t) => {
  const { store } = openStore(t);
  const [alice] = await seedMembers(store, ['alice']);
  const admin = await adminOf(store);
  const id = alice!.id;
  const expiresAt = new Date(Date.now() + 3600_000).toISOString();
  const first = await store.getUserById(id);
  t.equal(await store.getUserById(id), first, 'the second read is the cached record');
  t.ok(Object.isFrozen(first), 'and it is frozen, so no caller can change what the next one reads');
  t.equal(await store.getUserByUsername('alice'), first, 'by name too');

  await store.setUserStatus(id, 'suspended');
  t.equal((await store.getUserById(id))?.status, 'suspended', 'suspension, by id');
  t.equal((await store.getUserByUsername('alice'))?.status, 'suspended', 'suspension, by name');
  t.strictSame((await store.resolveActiveMembers(['alice'])).missing, ['alice'], 'a suspended member is no longer an addressee');
  await store.setUserStatus(id, 'active');
  t.strictSame((await store.resolveActiveMembers(['alice'])).found.map((u) => u.username), ['alice'], 'reactivated');

  await store.setPassword(id, 'hash-2', true);
  t.match(await store.getUserByUsername('alice'), { passwordHash: 'hash-2', mustChangePassword: true });
  await store.recordLogin(id, '198.51.100.9');
  t.equal((await store.getUserById(id))?.lastLoginAddress, '198.51.100.9');

  const s1 = await store.createSession({ userId: id, tokenHash: 'c1', address: null, expiresAt });
  const s2 = await store.createSession({ userId: id, tokenHash: 'c2', address: null, expiresAt });
  t.equal(await store.findSession('c1'), await store.findSession('c1'), 'a session read twice is the cached record');
  await store.closeSession(s1.id);
  t.equal(await store.findSession('c1'), null, 'a closed session is gone at once');
  t.equal((await store.findSession('c2'))?.id, s2.id, 'the other one is still there');
  await store.closeUserSessions(id);
  t.equal(await store.findSession('c2'), null, 'closing all of a user\'s sessions');

  await store.createSession({ userId: id, tokenHash: 'c3', address: null, expiresAt });
  t.ok(await store.findSession('c3'));
  await store.resetPassword({
    userId: id, adminId: admin.id, passwordHash: 'hash-3', address: null,
    mail: { kind: 'password_reset', to: 'u@example.org', subject: 'reset', sealedText: 'x' },
  });
  t.equal(await store.findSession('c3'), null, 'an admin reset closes the session');
  t.match(await store.getUserById(id), { passwordHash: 'hash-3', mustChangePassword: true }, 'and the new hash is read');
});

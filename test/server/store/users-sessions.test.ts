import t from 'tap';
import { adminOf, openStore, seedMembers } from './helpers.js';

t.test('ensureAdmin creates the admin account once', async (t) => {
  const { store } = openStore(t);
  t.equal(await store.ensureAdmin('first-hash'), true);
  t.equal(await store.ensureAdmin('second-hash'), false);
  t.match(await store.getUserByUsername('admin'), {
    role: 'admin',
    status: 'active',
    mustChangePassword: false,
    passwordHash: 'first-hash',
    email: '',
  });
});

t.test('ensureAdmin refuses to run when a member already holds the name admin', async (t) => {
  const { store } = openStore(t);
  store.db
    .prepare(`INSERT INTO users (username, role, password_hash, created_at) VALUES ('admin', 'member', 'x', 'now')`)
    .run();
  await t.rejects(store.ensureAdmin('h'), /username "admin" belongs to a member/);
});

t.test('resolving usernames finds active members only and reports the rest in input order', async (t) => {
  const { store } = openStore(t);
  const [alice, bob, carol] = await seedMembers(store, ['alice', 'bob', 'carol']);
  await store.setUserStatus(bob!.id, 'suspended');
  const { found, missing } = await store.resolveActiveMembers(['carol', 'zed', 'bob', 'alice', 'admin', 'carol']);
  t.strictSame(
    found.map((u) => u.id),
    [carol!.id, alice!.id],
  );
  t.strictSame(missing, ['zed', 'bob', 'admin']);
  t.strictSame(await store.resolveActiveMembers([]), { found: [], missing: [] });
});

t.test('active member ids leave out suspended members and the admin', async (t) => {
  const { store } = openStore(t);
  const [alice, bob, carol] = await seedMembers(store, ['alice', 'bob', 'carol']);
  await store.setUserStatus(bob!.id, 'suspended');
  t.strictSame(await store.listActiveMemberIds(), [alice!.id, carol!.id]);
  await store.setUserStatus(bob!.id, 'active');
  t.strictSame(await store.listActiveMemberIds(), [alice!.id, bob!.id, carol!.id]);
});

t.test('the active member list is kept between broadcasts, and follows every change to it', async (t) => {
  const { store } = openStore(t);
  const [alice, bob] = await seedMembers(store, ['alice', 'bob']);
  const first = await store.listActiveMemberIds();
  first.pop(); // a caller's own copy
  t.strictSame(await store.listActiveMemberIds(), [alice!.id, bob!.id]);
  const [carol] = await seedMembers(store, ['carol']);
  t.strictSame(await store.listActiveMemberIds(), [alice!.id, bob!.id, carol!.id], 'a new member');
  await store.setUserStatus(alice!.id, 'suspended');
  t.strictSame(await store.listActiveMemberIds(), [bob!.id, carol!.id], 'a suspension');
  await store.setPassword(bob!.id, 'other-hash', false);
  await store.recordLogin(bob!.id, '192.0.2.1');
  t.strictSame(await store.listActiveMemberIds(), [bob!.id, carol!.id], 'other writes leave it alone');
  await store.setUserStatus(alice!.id, 'active');
  t.strictSame(await store.listActiveMemberIds(), [alice!.id, bob!.id, carol!.id], 'a reactivation');
});

t.test('the member list holds active and suspended members by username, without the admin', async (t) => {
  const { store } = openStore(t);
  const [carol] = await seedMembers(store, ['carol', 'alice', 'bob']);
  await store.setUserStatus(carol!.id, 'suspended');
  const members = await store.listMembers();
  t.strictSame(
    members.map((u) => [u.username, u.status]),
    [
      ['alice', 'active'],
      ['bob', 'active'],
      ['carol', 'suspended'],
    ],
  );
});

t.test('a password change and a login are recorded on the user', async (t) => {
  const { store } = openStore(t);
  const [alice] = await seedMembers(store, ['alice']);
  await store.setPassword(alice!.id, 'new-hash', false);
  await store.recordLogin(alice!.id, '198.51.100.7');
  const after = await store.getUserById(alice!.id);
  t.match(after, { passwordHash: 'new-hash', mustChangePassword: false, lastLoginAddress: '198.51.100.7' });
  t.type(after?.lastLoginAt, 'string');
  await store.setPassword(alice!.id, 'reset-hash', true);
  t.equal((await store.getUserById(alice!.id))?.mustChangePassword, true);
  t.equal(await store.getUserById(9999), null);
});

t.test('a session is found by its token hash until it is closed', async (t) => {
  const { store } = openStore(t);
  const admin = await adminOf(store);
  const expiresAt = new Date(Date.now() + 3600_000).toISOString();
  const session = await store.createSession({ userId: admin.id, tokenHash: 'hash-1', address: '192.0.2.1', expiresAt });
  t.match(session, { userId: admin.id, address: '192.0.2.1', expiresAt, closedAt: null });
  t.strictSame(await store.findSession('hash-1'), session);
  t.equal(await store.findSession('hash-2'), null);
  await store.closeSession(session.id);
  t.equal(await store.findSession('hash-1'), null);
});

t.test('an expired but open session is still found (expiry is the caller\'s call)', async (t) => {
  const { store } = openStore(t);
  const admin = await adminOf(store);
  await store.createSession({ userId: admin.id, tokenHash: 'old', address: null, expiresAt: '2000-01-01T00:00:00.000Z' });
  t.match(await store.findSession('old'), { expiresAt: '2000-01-01T00:00:00.000Z', address: null });
});

t.test('closing a user\'s sessions closes only that user\'s open ones and counts them', async (t) => {
  const { store } = openStore(t);
  const [alice, bob] = await seedMembers(store, ['alice', 'bob']);
  const expiresAt = new Date(Date.now() + 3600_000).toISOString();
  const a1 = await store.createSession({ userId: alice!.id, tokenHash: 'a1', address: null, expiresAt });
  await store.createSession({ userId: alice!.id, tokenHash: 'a2', address: null, expiresAt });
  await store.createSession({ userId: alice!.id, tokenHash: 'a3', address: null, expiresAt });
  await store.createSession({ userId: bob!.id, tokenHash: 'b1', address: null, expiresAt });
  await store.closeSession(a1.id);
  t.equal(await store.closeUserSessions(alice!.id), 2);
  t.equal(await store.closeUserSessions(alice!.id), 0);
  t.equal(await store.findSession('a2'), null);
  t.not(await store.findSession('b1'), null);
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
    mail: (u) => ({ kind: 'password_reset', to: u.email, subject: 'reset', sealedText: 'x' }),
  });
  t.equal(await store.findSession('c3'), null, 'an admin reset closes the session');
  t.match(await store.getUserById(id), { passwordHash: 'hash-3', mustChangePassword: true }, 'and the new hash is read');
});

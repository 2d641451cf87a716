/** Store contract: sessions (found by token hash while open, closed one by one or all of a user's). */
import t from 'tap';
import { forEachAdapter } from './adapters.js';
import { ISO, adminOf, inOneHour, seedMembers } from './fixtures.js';


forEachAdapter(t, (t, adapter) => {
  t.test('a session is found by its token hash until it is closed', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    const expiresAt = inOneHour();
    const session = await store.createSession({ userId: admin.id, tokenHash: 'hash-1', address: '192.0.2.1', expiresAt });
    t.match(session, { userId: admin.id, address: '192.0.2.1', expiresAt, closedAt: null });
    t.type(session.id, 'number');
    t.match(session.createdAt, ISO);
    t.strictSame(await store.findSession('hash-1'), session);
    t.equal(await store.findSession('hash-2'), null);
    await store.closeSession(session.id);
    t.equal(await store.findSession('hash-1'), null, 'a closed session is gone at once');
    await store.closeSession(session.id); // closing twice changes nothing
    t.equal(await store.findSession('hash-1'), null);
  });

  t.test('findSessionAndUser: the open session and its member in one read, as findSession and getUserById give them', async (t) => {
    const store = await adapter.open(t);
    const [alice, bob] = await seedMembers(store, ['alice', 'bob']);
    const restricted = await store.createSession({ userId: alice!.id, tokenHash: 'a1', address: '192.0.2.1', expiresAt: inOneHour(), mustChangePassword: true });
    const expired = await store.createSession({ userId: bob!.id, tokenHash: 'b1', address: null, expiresAt: '2000-01-01T00:00:00.000Z' });
    t.strictSame(await store.findSessionAndUser('a1'), { session: restricted, user: await store.getUserById(alice!.id) }, 'every field of both');
    t.strictSame(await store.findSessionAndUser('b1'), { session: expired, user: await store.getUserById(bob!.id) }, 'expired but open: found (expiry is the caller\'s call)');
    t.equal(await store.findSessionAndUser('nope'), null, 'an unknown token hash');
    await store.setUserStatus(bob!.id, 'suspended');
    t.match(await store.findSessionAndUser('b1'), { session: { id: expired.id }, user: { id: bob!.id, status: 'suspended' } }, 'a suspended member\'s, with its status now');
    await store.closeSession(restricted.id);
    t.equal(await store.findSessionAndUser('a1'), null, 'a closed session is gone at once');
  });

  t.test('an expired but open session is still found (expiry is the caller\'s call), its times as given', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    await store.createSession({ userId: admin.id, tokenHash: 'old', address: null, expiresAt: '2000-01-01T00:00:00.000Z' });
    t.match(await store.findSession('old'), { expiresAt: '2000-01-01T00:00:00.000Z', address: null, closedAt: null });
    const far = '2999-12-31T23:59:59.999Z';
    await store.createSession({ userId: admin.id, tokenHash: 'far', address: null, expiresAt: far });
    t.equal((await store.findSession('far'))?.expiresAt, far);
  });

  t.test('closing a user\'s sessions closes only that user\'s open ones and counts them', async (t) => {
    const store = await adapter.open(t);
    const [alice, bob] = await seedMembers(store, ['alice', 'bob']);
    const expiresAt = inOneHour();
    const a1 = await store.createSession({ userId: alice!.id, tokenHash: 'a1', address: null, expiresAt });
    await store.createSession({ userId: alice!.id, tokenHash: 'a2', address: null, expiresAt });
    await store.createSession({ userId: alice!.id, tokenHash: 'a3', address: null, expiresAt });
    const b1 = await store.createSession({ userId: bob!.id, tokenHash: 'b1', address: null, expiresAt });
    await store.closeSession(a1.id);
    t.equal(await store.closeUserSessions(alice!.id), 2);
    t.equal(await store.closeUserSessions(alice!.id), 0);
    t.equal(await store.findSession('a2'), null);
    t.equal(await store.findSession('a3'), null);
    t.strictSame(await store.findSession('b1'), b1, 'bob\'s is untouched');
  });

  t.test('a session opened with a mailed password keeps that restriction; others have none', async (t) => {
    const store = await adapter.open(t);
    const [alice] = await seedMembers(store, ['alice']);
    const plain = await store.createSession({ userId: alice!.id, tokenHash: 'plain', address: null, expiresAt: inOneHour() });
    const oneTime = await store.createSession({ userId: alice!.id, tokenHash: 'mailed', address: null, expiresAt: inOneHour(), mustChangePassword: true });
    t.equal(plain.mustChangePassword, false, 'false by default');
    t.equal(oneTime.mustChangePassword, true);
    t.strictSame(await store.findSession('mailed'), oneTime);
    await store.setPassword(alice!.id, 'own-hash', false);
    t.equal((await store.findSession('mailed'))?.mustChangePassword, true, 'a password set by other means does not lift it');
  });

  t.test('changing the password lifts the restriction of the session that did it and closes the member\'s others', async (t) => {
    const store = await adapter.open(t);
    const [alice, bob] = await seedMembers(store, ['alice', 'bob']);
    const mailed = await store.createSession({ userId: alice!.id, tokenHash: 'mailed', address: null, expiresAt: inOneHour(), mustChangePassword: true });
    await store.createSession({ userId: alice!.id, tokenHash: 'other1', address: null, expiresAt: inOneHour(), mustChangePassword: true });
    const closedBefore = await store.createSession({ userId: alice!.id, tokenHash: 'other2', address: null, expiresAt: inOneHour() });
    await store.closeSession(closedBefore.id);
    await store.createSession({ userId: alice!.id, tokenHash: 'other3', address: null, expiresAt: inOneHour() });
    const bobs = await store.createSession({ userId: bob!.id, tokenHash: 'bob', address: null, expiresAt: inOneHour() });

    t.strictSame(await store.changePassword({ userId: alice!.id, sessionId: mailed.id, passwordHash: 'own-hash', address: '192.0.2.5' }), { sessions: 2 });
    t.strictSame(await store.findSession('mailed'), { ...mailed, mustChangePassword: false }, 'this session goes on, unrestricted');
    t.equal(await store.findSession('other1'), null);
    t.equal(await store.findSession('other3'), null);
    t.strictSame(await store.findSession('bob'), bobs, 'another member\'s session is untouched');
    t.match(await store.getUserById(alice!.id), { passwordHash: 'own-hash', mustChangePassword: false });
    const [event] = await store.listAudit({ kind: 'password_changed' }, { limit: 10 });
    t.match(event, { actorId: alice!.id, subject: 'alice', address: '192.0.2.5', detail: { sessions: 2 } });
    t.equal(await store.changePassword({ userId: alice!.id, sessionId: mailed.id, passwordHash: 'again', address: null }).then((r) => r.sessions), 0);
    await t.rejects(store.changePassword({ userId: 9999, sessionId: mailed.id, passwordHash: 'x', address: null }), { name: 'StoreError', kind: 'not_found', failure: { what: 'user' } });
    t.equal((await store.listAudit({ kind: 'password_changed' }, { limit: 10 })).length, 2, 'nothing audited for the unknown user');
  });

  t.test('a token hash opens one session only', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    await store.createSession({ userId: admin.id, tokenHash: 'same', address: null, expiresAt: inOneHour() });
    await t.rejects(store.createSession({ userId: admin.id, tokenHash: 'same', address: null, expiresAt: inOneHour() }));
  });
});

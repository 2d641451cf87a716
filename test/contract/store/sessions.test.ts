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

  t.test('a token hash opens one session only', async (t) => {
    const store = await adapter.open(t);
    const admin = await adminOf(store);
    await store.createSession({ userId: admin.id, tokenHash: 'same', address: null, expiresAt: inOneHour() });
    await t.rejects(store.createSession({ userId: admin.id, tokenHash: 'same', address: null, expiresAt: inOneHour() }));
  });
});

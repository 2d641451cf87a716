/**
 * Store contract: what one member or one registration script may add (issue 20 item 5) — the
 * storage each sender's messages take and the quota on it, the cap on pending registrations from
 * everyone — and LOGIN's session and login record written together.
 */
import t from 'tap';
import { StoreError, type NewMessage, type User } from '../../../src/core/ports/store.js';
import { forEachAdapter } from './adapters.js';
import { inOneHour, registration, seedMembers } from './fixtures.js';

const direct = (from: User, to: User, subject: string, body: string, extra: Partial<NewMessage> = {}): NewMessage => ({
  senderId: from.id, audience: 'direct', recipientIds: [to.id], subject, body, ...extra,
});

forEachAdapter(t, (t, adapter) => {
  t.test('each sender\'s messages are counted in UTF-8 bytes, declared attachments included', async (t) => {
    const store = await adapter.open(t);
    const [alice, bob] = (await seedMembers(store, ['alice', 'bob'])) as [User, User];
    t.strictSame(await store.storageUsage(), new Map(), 'nothing sent, nothing counted');
    await store.storeMessage(direct(alice, bob, 'Rapat', 'Besok pagi')); // 5 + 10
    await store.storeMessage(direct(alice, bob, 'é', '😀')); // 2 + 4
    const files = [{ name: 'a.pdf', size: 1000, sha256: 'a'.repeat(64), mediaType: 'application/pdf' }];
    const sending = await store.storeMessage(direct(alice, bob, 'Lampiran', '', { attachments: files, uploadDeadline: inOneHour() })); // 8 + 1000
    await Promise.all(Array.from({ length: 5 }, (_, i) => store.storeMessage(direct(bob, alice, `b${i}`, 'xy')))); // 5 × 4, one batch
    t.strictSame(await store.storageUsage(), new Map([[alice.id, 15 + 6 + 1008], [bob.id, 20]]));
    await store.closeSendingMessage(sending.id, 'cancelled');
    t.equal((await store.storageUsage()).get(alice.id), 15 + 6 + 8, 'a cancelled message\'s files no longer count, its text does');
    const again = await adapter.reopen(t, store);
    t.equal((await again.storageUsage()).get(alice.id), 29, 'kept in the database');
  });

  t.test('a message that would take its sender past the quota is refused and stores nothing; others in its batch are stored', async (t) => {
    const store = await adapter.open(t);
    const [alice, bob] = (await seedMembers(store, ['alice', 'bob'])) as [User, User];
    await store.storeMessage(direct(alice, bob, 'a', 'x'.repeat(90)), { quotaBytes: 100 }); // 91
    const outcomes = await Promise.all([
      store.storeMessage(direct(alice, bob, 'b', 'x'.repeat(20)), { quotaBytes: 100 }).then(() => 'stored', (e: unknown) => e),
      store.storeMessage(direct(bob, alice, 'c', 'y'), { quotaBytes: 100 }).then(() => 'stored', (e: unknown) => e),
      store.storeMessage(direct(alice, bob, 'd', 'z'), { quotaBytes: 100 }).then(() => 'stored', (e: unknown) => e),
    ]);
    t.type(outcomes[0], StoreError);
    t.match(outcomes[0], { kind: 'quota', failure: { usedBytes: 91, messageBytes: 21, quotaBytes: 100 } }, 'with what is used, what it needs and the quota');
    t.strictSame(outcomes.slice(1), ['stored', 'stored'], 'the others in the batch are stored (one that fits exactly too)');
    t.strictSame(await store.storageUsage(), new Map([[alice.id, 93], [bob.id, 2]]), 'the refused one is not counted');
    t.strictSame((await store.outbox(alice.id, { limit: 10 })).map((m) => m.subject).sort(), ['a', 'd'], 'nor stored');
    await store.storeMessage(direct(alice, bob, 'e', 'x'.repeat(200)));
    t.pass('without a quota nothing is refused');
  });

  t.test('registrations waiting from everyone are capped', async (t) => {
    const store = await adapter.open(t);
    for (const [n, address] of ['192.0.2.1', '192.0.2.2', '192.0.2.3'].entries()) {
      await store.createRegistration(registration(`u${n}`, { fromAddress: address }), { maxPending: 3 });
    }
    const refused = await store.createRegistration(registration('u4', { fromAddress: '192.0.2.4' }), { maxPending: 3 }).catch((e: unknown) => e);
    t.type(refused, StoreError);
    t.match(refused, { kind: 'limit' });
    t.match((refused as Error).message, /3 registration requests are already waiting for a decision, the most this server keeps/);
    t.equal((await store.listRegistrations('pending', { limit: 10 })).length, 3, 'and not recorded');
    await store.createRegistration(registration('u5', { fromAddress: '192.0.2.5' }));
    t.pass('without the cap it is recorded');
  });

  t.test('a login writes the session and the user\'s last login together', async (t) => {
    const store = await adapter.open(t);
    const [alice] = (await seedMembers(store, ['alice'])) as [User];
    const session = await store.login({ userId: alice.id, tokenHash: 'login-1', address: '198.51.100.7', expiresAt: inOneHour(), mustChangePassword: true });
    t.strictSame(await store.findSession('login-1'), session, 'the session is stored');
    t.equal(session.mustChangePassword, true);
    const user = await store.getUserById(alice.id);
    t.equal(user?.lastLoginAddress, '198.51.100.7', 'and the login recorded');
    t.ok(user?.lastLoginAt, 'with its time');
  });
});

/**
 * Delivery's rules and bookkeeping (src/core/services/delivery.ts) against real adapters: a real
 * SQLite store in a temp dir, the in-process bus (two nodes on one hub where it matters), and the
 * server's popup port over real loopback connections (src/server/delivery.ts, local-connections.ts).
 * The delivered marks are seen in the store; which mark writes delivery made is recorded by a thin
 * wrapper that passes every call on to the real store.
 */
import t, { type Test } from 'tap';
import { argsToPopup, decodeServerFrame, type PopupRecord } from '../../src/protocol/index.js';
import {
  DeliverySubscriber, PeriodicCatchUp, deliverMessage, pushableRecipients, replayPending, type DeliveryPorts, type DeliveryStore,
} from '../../src/core/services/delivery.js';
import { AUDIENCE_SNAPSHOT_ABOVE, type Message, type User } from '../../src/core/ports/store.js';
import { MemoryBusHub } from '../../src/adapters/memory/bus.js';
import type { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { LocalConnections } from '../../src/server/local-connections.js';
import { popupConnection, popupOutlet } from '../../src/server/delivery.js';
import { TrafficStats } from '../../src/server/stats.js';
import { serverSideConnection as connect, waitFor, type ServerSideConnection } from '../helpers/server-connection.js';
import { openStore, seedMembers } from '../adapters/sqlite/helpers.js';

type Mark = [write: 'delivered' | 'deliveredMany' | 'undelivered' | 'materialised', messageId: number, recipients: number[]];

/** The real store as delivery sees it, each mark write recorded before it is passed on. */
function recording(real: SqliteStore): { store: DeliveryStore; marks: Mark[] } {
  const marks: Mark[] = [];
  const store: DeliveryStore = {
    getMessage: (id) => real.getMessage(id),
    getMessageFor: (id, userIds) => real.getMessageFor(id, userIds),
    listUndelivered: (userId, limit) => real.listUndelivered(userId, limit),
    undeliveredAmong: (userIds, limit) => real.undeliveredAmong(userIds, limit),
    alertsOf: (ids) => real.alertsOf(ids),
    acksOf: (ids) => real.acksOf(ids),
    takeDueReminders: (userId, limit) => real.takeDueReminders(userId, limit),
    getUserById: (id) => real.getUserById(id),
    markDelivered: (id, userId) => { marks.push(['delivered', id, [userId]]); return real.markDelivered(id, userId); },
    markDeliveredMany: (id, userIds) => { marks.push(['deliveredMany', id, [...userIds]]); return real.markDeliveredMany(id, userIds); },
    markUndelivered: (id, userIds) => { marks.push(['undelivered', id, [...userIds]]); return real.markUndelivered(id, userIds); },
    materialiseRecipients: (id, userIds) => { marks.push(['materialised', id, [...userIds]]); return real.materialiseRecipients(id, userIds); },
  };
  return { store, marks };
}

/** One node: its connections, its popup port, its counters, delivery's ports over the shared store. */
function node(real: SqliteStore) {
  const local = new LocalConnections();
  const stats = new TrafficStats();
  const { store, marks } = recording(real);
  const ports: DeliveryPorts = { store, outlet: popupOutlet(local), counters: stats };
  return { local, stats, marks, ports };
}

async function setup(t: Test) {
  const { store } = openStore(t);
  const [alice, bob, carol, dave] = (await seedMembers(store, ['alice', 'bob', 'carol', 'dave'])) as [User, User, User, User];
  return { real: store, alice, bob, carol, dave };
}

/** The POPUP pushes a connection has read so far, in order. */
function popups(side: ServerSideConnection): PopupRecord[] {
  return popupLines(side).map((line) => {
    const f = decodeServerFrame(line);
    if (f.kind !== 'push') throw new Error('not a push');
    return argsToPopup(f.args);
  });
}

function popupLines(side: ServerSideConnection): string[] {
  return side.received().split('\n').filter((line) => line.startsWith('*|POPUP|'));
}

const ids = (side: ServerSideConnection): number[] => popups(side).map((p) => p.id);

/**
 * Waits until a connection has read the popup of `last` (pushed after everything the test looks
 * at): what was to arrive before it has arrived, so an absence is seen without waiting on a clock.
 */
async function readUpTo(ports: DeliveryPorts, side: ServerSideConnection, last: Message): Promise<void> {
  ports.outlet.popupsOf(last, 'Sentinel', null).push(side.conn.user!.userId, null);
  await waitFor(() => ids(side).includes(last.id));
}

const send = (real: SqliteStore, from: User, to: User[], subject: string) =>
  real.storeMessage({ senderId: from.id, audience: to.length === 1 ? 'direct' : 'list', recipientIds: to.map((u) => u.id), subject, body: `${subject} body` });

const undelivered = async (real: SqliteStore, u: User) => (await real.listUndelivered(u.id, 100)).map((m) => m.id);

t.test('message stored: every connection of each recipient here gets the popup once, the same bytes; the marks are one write', async (t) => {
  const { real, alice, bob, carol, dave } = await setup(t);
  const a = node(real);
  const bus = new MemoryBusHub().node('a');
  new DeliverySubscriber({ ...a.ports, bus, onError: (err) => t.error(err) }).start();
  const bob1 = await connect(t, a.local, bob);
  const bob2 = await connect(t, a.local, bob);
  const carolSide = await connect(t, a.local, carol);
  const m = await send(real, alice, [bob, carol, dave], 'broadcast');

  await bus.publish({ type: 'message_stored', messageId: m.id, institution: 'Alice U.', message: m, alert: null });
  await waitFor(() => ids(bob1).length === 1 && ids(bob2).length === 1 && ids(carolSide).length === 1);
  await waitFor(() => a.marks.length === 1);
  t.strictSame(a.marks, [['deliveredMany', m.id, [bob.id, carol.id]]], 'one write for the recipients pushed here');
  t.match(popups(carolSide)[0], { id: m.id, from: 'alice', institution: 'Alice U.', subject: 'broadcast' });
  t.equal(popupLines(bob1)[0], popupLines(carolSide)[0], 'the same frame for every recipient of one route');
  t.equal(a.stats.popups, 2, 'counted once per member');
  t.strictSame(await undelivered(real, bob), []);
  t.strictSame(await undelivered(real, carol), []);
  t.strictSame(await undelivered(real, dave), [m.id], 'offline: at its next login');

  // The same wake-up again (at least once): nothing is shown twice, nothing written again.
  t.equal(await deliverMessage(a.ports, m, 'Alice U.'), 0);
  t.equal(a.marks.length, 1);
  const after = await send(real, alice, [bob], 'sentinel');
  await readUpTo(a.ports, bob1, after);
  t.strictSame(ids(bob1), [m.id, after.id], 'the first popup once');
});

t.test('heard from another node: marks are written for the pushes made here; those the storing commit wrote are not taken back', async (t) => {
  const { real, alice, bob, carol } = await setup(t);
  const hub = new MemoryBusHub();
  const a = node(real);
  const b = node(real);
  const busA = hub.node('a');
  const busB = hub.node('b');
  new DeliverySubscriber({ ...a.ports, bus: busA, onError: (err) => t.error(err) }).start();
  new DeliverySubscriber({ ...b.ports, bus: busB, onError: (err) => t.error(err) }).start();
  const carolOnA = await connect(t, a.local, carol);
  const bobOnB = await connect(t, b.local, bob);

  // Node A stores it with carol (connected to A) written delivered at the commit.
  const m = await real.deliveredAtCommit!(pushableRecipients(a.ports.outlet)).storeMessage({
    senderId: alice.id, audience: 'list', recipientIds: [bob.id, carol.id], subject: 'two nodes', body: 'b',
  });
  t.strictSame(m.recipients.map((r) => [r.username, r.deliveredAt !== null]), [['bob', false], ['carol', true]]);
  await busA.publish({ type: 'message_stored', messageId: m.id, institution: 'Alice U.', message: m, alert: null });
  await waitFor(() => ids(carolOnA).length === 1 && ids(bobOnB).length === 1);
  await waitFor(() => b.marks.length === 1);
  t.strictSame(a.marks, [], 'A: carol\'s mark was written at the commit');
  t.strictSame(b.marks, [['deliveredMany', m.id, [bob.id]]], 'B: bob\'s, pushed there; carol\'s is not B\'s to take back');
  t.strictSame(await undelivered(real, carol), []);
  t.strictSame(await undelivered(real, bob), []);
});

t.test('heard from another node: a message recalled or expired by then does not pop up', async (t) => {
  const { real, alice, bob } = await setup(t);
  const b = node(real);
  const bobOnB = await connect(t, b.local, bob);
  const elsewhere = false; // storedHere: the wake-up came from another node

  // Recalled before this node heard the wake-up: it reads the alert (none rode along) and finds it recalled.
  const recalled = await send(real, alice, [bob], 'recalled');
  await real.recallMessage({ messageId: recalled.id, byUserId: alice.id, reason: 'wrong' });
  t.equal(await deliverMessage(b.ports, recalled, 'Alice U.', elsewhere), 0, 'recalled, the alert read from the store: no popup');
  const recalledAlert = (await real.alertsOf([recalled.id])).get(recalled.id)!;
  t.equal(await deliverMessage(b.ports, recalled, 'Alice U.', elsewhere, recalledAlert), 0, 'recalled, the alert carried: no popup');
  // Past its expiry when this node hears it (a late wake-up).
  const past = new Date(Date.now() - 1000).toISOString();
  const { message: expired } = await real.storeAlertedMessage(
    { senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 'expired', body: 'b' }, { priority: 'normal', ack: false, expiresAt: past },
  );
  const expiredAlert = (await real.alertsOf([expired.id])).get(expired.id)!;
  t.equal(await deliverMessage(b.ports, expired, 'Alice U.', elsewhere, expiredAlert), 0, 'expired: no popup');

  const after = await send(real, alice, [bob], 'sentinel');
  t.equal(await deliverMessage(b.ports, after, 'Alice U.', elsewhere, null), 1, 'a message neither recalled nor expired pops up');
  await waitFor(() => ids(bobOnB).includes(after.id));
  t.strictSame(ids(bobOnB), [after.id], 'only that one reached bob');
  t.strictSame(b.marks, [['deliveredMany', after.id, [bob.id]]], 'no delivered mark for the others');
});

t.test('a push that fails after the commit wrote its mark is taken back, and the popup comes at the next login', async (t) => {
  const { real, alice, bob } = await setup(t);
  const a = node(real);
  const bobSide = await connect(t, a.local, bob);
  const m = await real.deliveredAtCommit!(pushableRecipients(a.ports.outlet)).storeMessage({
    senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 'lost push', body: 'b',
  });
  t.not(m.recipients[0]!.deliveredAt, null, 'written delivered at the commit');
  bobSide.conn.close();
  t.equal(await deliverMessage(a.ports, m, 'Alice U.'), 0, 'nothing could be pushed');
  t.strictSame(a.marks, [['undelivered', m.id, [bob.id]]], 'the mark is taken back');
  t.strictSame(await undelivered(real, bob), [m.id]);

  const again = await connect(t, a.local, bob);
  t.equal(await replayPending({ store: a.ports.store, counters: a.stats, maxPopupsAtLogin: 10 }, popupConnection(again.conn, bob.id)), 1);
  await waitFor(() => ids(again).length === 1);
  t.match(popups(again)[0], { id: m.id, subject: 'lost push', institution: 'Institution of alice' });
  t.strictSame(await undelivered(real, bob), []);
});

t.test('replay at login: oldest first, at most maxPopupsAtLogin, each marked; expired, recalled and scheduled messages stay out', async (t) => {
  const { real, alice, bob, carol } = await setup(t);
  const a = node(real);
  const past = new Date(Date.now() - 1000).toISOString();
  const later = new Date(Date.now() + 3600_000).toISOString();
  const first = await send(real, alice, [bob], 'first');
  const expired = (await real.storeAlertedMessage(
    { senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 'expired', body: 'b' }, { priority: 'normal', ack: false, expiresAt: past },
  )).message;
  const second = await send(real, alice, [bob], 'second');
  const recalled = await send(real, alice, [bob, carol], 'recalled');
  await real.recallMessage({ messageId: recalled.id, byUserId: alice.id, reason: 'wrong' });
  const scheduled = (await real.storeAlertedMessage(
    { senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 'scheduled', body: 'b' }, { priority: 'high', ack: false, deliverAt: later },
  )).message;
  const third = await send(real, alice, [bob], 'third');

  const bobSide = await connect(t, a.local, bob);
  const replay = () => replayPending({ store: a.ports.store, counters: a.stats, maxPopupsAtLogin: 2 }, popupConnection(bobSide.conn, bob.id));
  t.equal(await replay(), 2, 'the bound');
  t.equal(await replay(), 1, 'the rest at the next login');
  t.equal(await replay(), 0, 'nothing twice');
  t.strictSame(a.marks, [['delivered', first.id, [bob.id]], ['delivered', second.id, [bob.id]], ['delivered', third.id, [bob.id]]]);
  await waitFor(() => ids(bobSide).length === 3);
  t.strictSame(ids(bobSide), [first.id, second.id, third.id], 'oldest first; not the expired, recalled or scheduled one');
  t.equal(a.stats.popups, 3);
  for (const m of [expired, recalled, scheduled]) t.notOk(ids(bobSide).includes(m.id), `${m.subject}: no popup`);

  // Its time came: the scheduled message is released, and the next replay brings it.
  const at = Date.parse(later);
  const iso = (ms: number) => new Date(ms).toISOString();
  t.strictSame(await real.claimDueJobs({ now: iso(at), owner: 'test', leaseUntil: iso(at + 60_000), limit: 10 }), [{ kind: 'deliver', messageId: scheduled.id }]);
  t.equal((await real.releaseScheduled([scheduled.id], 'test', iso(at))).length, 1);
  t.equal(await replay(), 1);
  await waitFor(() => ids(bobSide).length === 4);
  t.match(popups(bobSide)[3], { id: scheduled.id, priority: 'high' });
});

t.test('reminders owed at login are pushed again as reminders, unless acknowledged or recalled since', async (t) => {
  const { real, alice, bob } = await setup(t);
  const a = node(real);
  const alerted = async (subject: string) => {
    const { message } = await real.storeAlertedMessage(
      { senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject, body: 'b' }, { priority: 'urgent', ack: true },
    );
    await real.markDelivered(message.id, bob.id);
    await real.remindMessage(message.id, new Set()); // bob offline: owed at his next login
    return message;
  };
  const owed = await alerted('owed');
  const acked = await alerted('acknowledged');
  const recalled = await alerted('recalled');
  await real.acknowledge(acked.id, bob.id);
  await real.recallMessage({ messageId: recalled.id, byUserId: alice.id, reason: 'wrong' });

  const bobSide = await connect(t, a.local, bob);
  t.equal(await replayPending({ store: a.ports.store, counters: a.stats, maxPopupsAtLogin: 10 }, popupConnection(bobSide.conn, bob.id)), 1);
  await waitFor(() => ids(bobSide).length === 1);
  t.equal(popups(bobSide).length, 1);
  t.match(popups(bobSide)[0], { id: owed.id, reminder: 1, priority: 'urgent', ack: true });
  t.strictSame(a.marks, [], 'a reminder writes no delivered mark');
  t.strictSame(await real.takeDueReminders(bob.id, 10), [], 'each reminder is taken once');
});

t.test('periodic catch-up: what the store says the members here have not had, at most a batch a tick, marked, never twice', async (t) => {
  const { real, alice, bob, carol } = await setup(t);
  const a = node(real);
  const bobSide = await connect(t, a.local, bob);
  const carolSide = await connect(t, a.local, carol);
  // Three messages whose wake-ups were lost; bob's connection had shown the first already.
  const m1 = await send(real, alice, [bob, carol], 'one');
  const m2 = await send(real, alice, [bob, carol], 'two');
  const m3 = await send(real, alice, [bob, carol], 'three');
  t.equal(a.ports.outlet.popupsOf(m1, 'Alice U.', null).push(bob.id, null), 1);

  const catchUp = new PeriodicCatchUp({ ...a.ports, intervalMs: 0, batch: 4, onError: (err) => t.error(err) });
  t.equal(await catchUp.tick(), 3, 'four owed popups, one of them shown already');
  t.strictSame(a.marks, [['deliveredMany', m1.id, [bob.id, carol.id]], ['deliveredMany', m2.id, [bob.id, carol.id]]], 'the shown one is marked too');
  t.equal(await catchUp.tick(), 2);
  t.equal(await catchUp.tick(), 0, 'nothing left');
  t.strictSame(await undelivered(real, bob), []);
  t.strictSame(await undelivered(real, carol), []);
  await waitFor(() => ids(bobSide).length === 3 && ids(carolSide).length === 3);
  t.strictSame(ids(bobSide), [m1.id, m2.id, m3.id], 'each once, oldest first');
  t.strictSame(ids(carolSide), [m1.id, m2.id, m3.id]);
});

t.test('a large audience: the storing node pushes first, then writes every recipient row in one call, those it pushed delivered', async (t) => {
  const { real, alice, bob, carol, dave } = await setup(t);
  const more = await seedMembers(real, Array.from({ length: AUDIENCE_SNAPSHOT_ABOVE }, (_, i) => `m${i}`));
  const hub = new MemoryBusHub();
  const a = node(real);
  const b = node(real);
  const busA = hub.node('a');
  new DeliverySubscriber({ ...a.ports, bus: busA, onError: (err) => t.error(err) }).start();
  new DeliverySubscriber({ ...b.ports, bus: hub.node('b'), onError: (err) => t.error(err) }).start();
  const carolOnA = await connect(t, a.local, carol);
  const bobOnB = await connect(t, b.local, bob);

  const m = await real.deliveredAtCommit!(pushableRecipients(a.ports.outlet)).storeMessage({
    senderId: alice.id, audience: 'all', recipientIds: [bob, carol, dave, ...more].map((u) => u.id), subject: 'everyone', body: 'b',
  });
  t.equal(m.recipientRowsPending, true, 'committed as a snapshot');
  t.ok(m.recipients.every((r) => r.deliveredAt === null), 'nothing marked at the commit');
  await busA.publish({ type: 'message_stored', messageId: m.id, institution: 'Alice U.', message: m, alert: null });
  await waitFor(() => ids(carolOnA).length === 1 && ids(bobOnB).length === 1);
  await waitFor(() => a.marks.length === 1 && b.marks.length === 1);
  t.strictSame(a.marks, [['materialised', m.id, [carol.id]]], 'A, which stored it: every row in one write, carol delivered');
  t.strictSame(b.marks, [['materialised', m.id, [bob.id]]], 'B: the mark of its push the same way, whichever write comes first');
  t.strictSame(await undelivered(real, carol), []);
  t.strictSame(await undelivered(real, bob), []);
  t.strictSame(await undelivered(real, dave), [m.id], 'offline: at its next login');
  t.equal((await real.getMessage(m.id))!.recipients.length, AUDIENCE_SNAPSHOT_ABOVE + 3);
});

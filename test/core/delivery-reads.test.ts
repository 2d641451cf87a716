/**
 * What delivery reads for a broadcast (issue 19, the full-scale cluster bench): a node holding 10
 * of a broadcast's 2,000 recipients reads their 10 recipient rows, not 2,000, in each of its
 * delivery paths: the periodic catch-up, the replay at login, and its subscriber hearing a message
 * that did not ride with its wake-up. On the real SQLite store (a temp file) and the real
 * PostgreSQL store (a fresh database; scripts/services.ts), members seeded as the bench seeds them.
 * The rows are counted by a thin wrapper that passes every call on to the real store and adds up
 * the recipients of the messages it gives back (the stores filter in SQL: what comes back is what
 * was read).
 */
import path from 'node:path';
import t, { type Test } from 'tap';
import { argsToPopup, decodeServerFrame } from '../../src/protocol/index.js';
import { DeliverySubscriber, PeriodicCatchUp, deliverMessage, replayPending, type DeliveryPorts, type DeliveryStore } from '../../src/core/services/delivery.js';
import type { Message, Store } from '../../src/core/ports/store.js';
import { MemoryBusHub } from '../../src/adapters/memory/bus.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { LocalConnections } from '../../src/server/local-connections.js';
import { popupConnection, popupOutlet } from '../../src/server/delivery.js';
import { TrafficStats } from '../../src/server/stats.js';
import { seedMembers, seedPostgresMembers } from '../../bench/lib/seed.js';
import { MemoryPresence } from '../../src/adapters/memory/presence.js';
import { Router } from '../../src/server/router.js';
import { alertJobHandler, remindRecipients, type AlertJobServices } from '../../src/server/alert-jobs.js';
import { remindable } from '../../src/core/services/alerts.js';
import { createLogger } from '../../src/server/logger.js';
import { requireCapability } from '../helpers/capability.js';
import { serverSideConnection as connect, waitFor, type ServerSideConnection } from '../helpers/server-connection.js';
import { freshPostgresDatabase, openPostgresStore, postgresMissing } from '../contract/store/adapters.js';
import { tempDir } from '../adapters/sqlite/helpers.js';

/** Recipients of each broadcast. */
const N = 2000;
/** Of them, connected to the node under test. */
const HERE = 10;
const BROADCASTS = 3;
/** Of a reminded message's recipients, offline ones that have not acknowledged either (besides the HERE connected). */
const OFFLINE = 5;
const UNACKED = HERE + OFFLINE;

interface Adapter {
  name: string;
  missing(): string | false;
  /** A store with N + 1 members (the first one sends). */
  open(t: Test): Promise<Store>;
}

const adapters: Adapter[] = [
  {
    name: 'sqlite',
    missing: () => false,
    async open(t) {
      const dir = tempDir(t);
      await seedMembers(dir, N + 1);
      const store = SqliteStore.open(path.join(dir, 'siar.db'));
      t.teardown(() => store.close());
      return store;
    },
  },
  {
    name: 'postgres',
    missing: postgresMissing,
    async open(t) {
      const url = await freshPostgresDatabase(t);
      await seedPostgresMembers(url, N + 1, 'm', { cheap: true });
      return openPostgresStore(url);
    },
  },
];

/** The real store as delivery sees it, counting the recipient rows (and owed pairs) its reads give back. */
function counting(real: Store): { store: DeliveryStore; rows: { recipients: number; owed: number } } {
  const rows = { recipients: 0, owed: 0 };
  const count = (m: Message | null): Message | null => { rows.recipients += m?.recipients.length ?? 0; return m; };
  const store: DeliveryStore = {
    getMessage: async (id) => count(await real.getMessage(id)),
    getMessageFor: async (id, userIds) => count(await real.getMessageFor(id, userIds)),
    listUndelivered: async (userId, limit) => { const list = await real.listUndelivered(userId, limit); list.forEach(count); return list; },
    undeliveredAmong: async (userIds, limit) => { const owed = await real.undeliveredAmong(userIds, limit); rows.owed += owed.length; return owed; },
    alertsOf: (ids) => real.alertsOf(ids),
    acksOf: (ids) => real.acksOf(ids),
    takeDueReminders: (userId, limit) => real.takeDueReminders(userId, limit),
    getUserById: (id) => real.getUserById(id),
    markDelivered: (id, userId) => real.markDelivered(id, userId),
    markDeliveredMany: (id, userIds) => real.markDeliveredMany(id, userIds),
    markUndelivered: (id, userIds) => real.markUndelivered(id, userIds),
    materialiseRecipients: (id, userIds) => real.materialiseRecipients(id, userIds),
  };
  return { store, rows };
}

/**
 * The real store as the reminders see it (every method passed on), counting what its reads give back
 * of one message's recipients: recipient rows (getMessage, getMessageFor), acknowledgement rows
 * (acksOf) and rows of those who have not acknowledged (unacknowledgedRecipients).
 */
function countingAll(real: Store): { store: Store; rows: { recipients: number; acks: number; unacknowledged: number } } {
  const rows = { recipients: 0, acks: 0, unacknowledged: 0 };
  const counters: Record<string, (out: unknown) => void> = {
    getMessage: (m) => { rows.recipients += (m as Message | null)?.recipients.length ?? 0; },
    getMessageFor: (m) => { rows.recipients += (m as Message | null)?.recipients.length ?? 0; },
    acksOf: (acks) => { for (const m of (acks as Map<number, Map<number, string>>).values()) rows.acks += m.size; },
    unacknowledgedRecipients: (page) => { rows.unacknowledged += (page as unknown[]).length; },
  };
  const store = new Proxy(real, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      const count = typeof prop === 'string' ? counters[prop] : undefined;
      if (!count) return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: unknown[]) => {
        const out = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        count(out);
        return out;
      };
    },
  });
  return { store, rows };
}

/** The ids of the POPUP pushes a connection has read so far, in order. */
function popupIds(side: ServerSideConnection): number[] {
  return side.received().split('\n').filter((line) => line.startsWith('*|POPUP|')).map((line) => {
    const f = decodeServerFrame(line);
    if (f.kind !== 'push') throw new Error('not a push');
    return argsToPopup(f.args).id;
  });
}

/** A store with N + 1 members, BROADCASTS broadcasts from the first to the N others, and a node holding HERE of them. */
async function setup(t: Test, adapter: Adapter) {
  const real = await adapter.open(t);
  const [senderId, ...recipientIds] = (await real.listActiveMemberIds()).sort((a, b) => a - b) as [number, ...number[]];
  t.equal(recipientIds.length, N);
  const broadcast = (subject: string) => real.storeMessage({ senderId, audience: 'all', recipientIds, subject, body: `${subject} body` });
  const local = new LocalConnections();
  const stats = new TrafficStats();
  const { store, rows } = counting(real);
  const ports: DeliveryPorts = { store, outlet: popupOutlet(local), counters: stats };
  // Spread over the audience: the first, the last, and between.
  const members = await Promise.all(Array.from({ length: HERE }, (_, i) => real.getUserById(recipientIds[Math.floor((i * (N - 1)) / (HERE - 1))]!)));
  const sides = await Promise.all(members.map((u) => connect(t, local, u!)));
  return { real, broadcast, local, stats, rows, ports, sides, members: members.map((u) => u!) };
}

for (const adapter of adapters) {
  t.test(adapter.name, async (t) => {
    if (!requireCapability(t, `the ${adapter.name} store`, adapter.missing())) return;

    t.test(`the periodic catch-up reads the ${HERE} recipient rows it owes, not ${N} a broadcast`, async (t) => {
      const { broadcast, stats, rows, ports, sides } = await setup(t, adapter);
      const sent: number[] = [];
      for (let i = 0; i < BROADCASTS; i++) sent.push((await broadcast(`b${i}`)).id);
      const catchUp = new PeriodicCatchUp({ ...ports, intervalMs: 0, onError: (err) => t.error(err) });
      t.equal(await catchUp.tick(), BROADCASTS * HERE, 'every popup owed here');
      t.equal(rows.owed, BROADCASTS * HERE, 'the owed pairs: these members\' only');
      t.equal(rows.recipients, BROADCASTS * HERE, `${HERE} recipient rows a broadcast`);
      await waitFor(() => sides.every((s) => popupIds(s).length === BROADCASTS));
      for (const s of sides) t.strictSame(popupIds(s), sent);
      t.equal(stats.popups, BROADCASTS * HERE);
      t.equal(await catchUp.tick(), 0, 'nothing owed any more');
    });

    t.test(`a node hearing a broadcast with its recipients pushes to the ${HERE} it holds without a read, and its marks are kept`, async (t) => {
      const { real, broadcast, rows, ports, sides, members } = await setup(t, adapter);
      const stored = await broadcast('carried');
      t.equal(stored.recipientRowsPending, true, 'a snapshot: its rows are not written yet');
      // As the Redis bus hands it to another node: the recipients, without names or states.
      const heard: Message = { ...stored, recipients: stored.recipients.map((r) => ({ ...r, username: '' })) };
      t.equal(await deliverMessage(ports, heard, 'U', false, null), HERE);
      t.equal(rows.recipients, 0, 'nothing read');
      await waitFor(() => sides.every((s) => popupIds(s).length === 1));
      const owed = async (): Promise<number[]> => (await Promise.all(members.map((u) => real.listUndelivered(u.id, 10)))).flat().map((m) => m.id);
      t.strictSame(await owed(), [], 'recorded delivered, before the storing node wrote the rows');
      await real.materialiseRecipients(stored.id, []); // the storing node, pushing to nobody
      t.strictSame(await owed(), [], 'and kept after');
      t.equal((await real.undeliveredAmong([stored.recipients[1]!.userId], 10)).length, 1, 'the others still owed');
    });

    t.test(`the replay at login reads one recipient row a broadcast, not ${N}`, async (t) => {
      const { broadcast, rows, ports, sides, members } = await setup(t, adapter);
      const sent: number[] = [];
      for (let i = 0; i < BROADCASTS; i++) sent.push((await broadcast(`b${i}`)).id);
      t.equal(await replayPending({ store: ports.store, counters: ports.counters, maxPopupsAtLogin: 100 }, popupConnection(sides[0]!.conn, members[0]!.id)), BROADCASTS);
      t.equal(rows.recipients, BROADCASTS, 'its own row of each');
      await waitFor(() => popupIds(sides[0]!).length === BROADCASTS);
      t.strictSame(popupIds(sides[0]!), sent);
    });

    t.test(`a reminder, automatic or REMIND, reads the rows of the ${UNACKED} who have not acknowledged, not ${N}, and asks presence about them alone`, async (t) => {
      const real = await adapter.open(t);
      const [senderId, ...recipientIds] = (await real.listActiveMemberIds()).sort((a, b) => a - b) as [number, ...number[]];
      // Not acknowledged: HERE members spread over the audience (connected here) and OFFLINE more (not connected).
      const connectedIds = Array.from({ length: HERE }, (_, i) => recipientIds[Math.floor((i * (N - 1)) / (HERE - 1))]!);
      const offlineIds = recipientIds.filter((id) => !connectedIds.includes(id)).slice(0, OFFLINE);
      const waiting = [...connectedIds, ...offlineIds].sort((a, b) => a - b);
      // Half the connected ones were reached through a group: their reminders say so.
      const recipientVia = new Map(connectedIds.filter((_, i) => i % 2 === 0).map((id) => [id, '@staff']));
      const { message } = await real.storeAlertedMessage(
        { senderId, audience: 'list', recipientIds, subject: 'Siaga', body: 'Evacuate', via: '@staff', recipientVia },
        { priority: 'urgent', ack: true, remindEverySeconds: 60, remindMax: 3 },
      );
      const acking = recipientIds.filter((id) => !waiting.includes(id));
      for (let i = 0; i < acking.length; i += 50) await Promise.all(acking.slice(i, i + 50).map((id) => real.acknowledge(message.id, id)));

      const presence = new MemoryPresence();
      const asked: number[] = [];
      const countedPresence = new Proxy(presence, {
        get(target, prop) {
          if (prop === 'onlineAmong') return (ids: readonly number[]) => { asked.push(...ids); return target.onlineAmong(ids); };
          const value: unknown = Reflect.get(target, prop, target);
          return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
        },
      });
      const local = new LocalConnections({ node: 'here', presence: countedPresence });
      const hub = new MemoryBusHub();
      const bus = hub.node('here');
      const router = new Router(local, bus, countedPresence, (err) => t.error(err));
      router.start();
      t.teardown(() => router.stop());
      const sides = await Promise.all(connectedIds.map(async (id) => connect(t, local, (await real.getUserById(id))!)));
      // Presence is written as they attach: every one of them is online before the reminders ask.
      for (let i = 0; (await presence.onlineAmong(connectedIds)).size < HERE; i++) {
        if (i > 1000) throw new Error('presence never had them');
        await new Promise((r) => setTimeout(r, 10));
      }
      const { store, rows } = countingAll(real);
      const services: AlertJobServices = { store, router, bus, stats: new TrafficStats(), log: createLogger('silent') };
      const reminders = (side: ServerSideConnection) => side.received().split('\n').filter((line) => line.startsWith('*|POPUP|')).map((line) => {
        const f = decodeServerFrame(line);
        if (f.kind !== 'push') throw new Error('not a push');
        return argsToPopup(f.args);
      }).filter((p) => p.id === message.id && p.reminder);

      // The automatic one: claimed as the runner claims it, then run by the runner's handler.
      const later = new Date(Date.now() + 3_600_000).toISOString();
      const jobs = await real.claimDueJobs({ now: later, owner: 'test', leaseUntil: new Date(Date.now() + 7_200_000).toISOString(), limit: 10 });
      t.strictSame(jobs, [{ kind: 'remind', messageId: message.id }]);
      await alertJobHandler(services)(jobs[0]!, { owner: 'test', nowMs: Date.now() });
      await waitFor(() => sides.every((s) => reminders(s).length === 1));
      sides.forEach((s, i) => t.match(reminders(s)[0], { reminder: 1, via: recipientVia.get(connectedIds[i]!) ?? '' }, 'the reminder, with its route'));
      t.equal(rows.recipients, 0, `no recipient row read whole: ${rows.recipients}`);
      t.equal(rows.acks, 0, `no acknowledgement row read: ${rows.acks}`);
      t.equal(rows.unacknowledged, UNACKED + 1, `the ${UNACKED} rows of those who have not acknowledged (and one to tell that some have not): ${rows.unacknowledged}`);
      t.strictSame([...new Set(asked)].sort((a, b) => a - b), waiting, 'presence asked about the non-acknowledgers alone');
      t.equal(asked.length, UNACKED, `once each: ${asked.length} asked`);

      // REMIND: the member's checks, then the same reminder.
      rows.recipients = rows.acks = rows.unacknowledged = 0;
      asked.length = 0;
      const sender = (await real.getUserById(senderId))!;
      const { message: own, alert } = await remindable(store, sender, message.id);
      const out = await remindRecipients(services, own, alert, { manual: true, actorId: senderId, address: '127.0.0.1' });
      t.match(out, { reminders: 2, reminded: UNACKED, online: HERE });
      out!.push();
      await waitFor(() => sides.every((s) => reminders(s).length === 2));
      sides.forEach((s, i) => t.match(reminders(s)[1], { reminder: 2, via: recipientVia.get(connectedIds[i]!) ?? '' }));
      t.equal(rows.recipients, 0, `REMIND: no recipient row read whole: ${rows.recipients}`);
      t.equal(rows.acks, 0, `REMIND: no acknowledgement row read: ${rows.acks}`);
      t.equal(rows.unacknowledged, UNACKED, `REMIND: the ${UNACKED} rows of those who have not acknowledged: ${rows.unacknowledged}`);
      t.strictSame([...asked].sort((a, b) => a - b), waiting, `REMIND: presence asked about the non-acknowledgers alone, once each: ${asked.length} asked`);
    });

    t.test(`a node hearing a broadcast without its recipients reads the ${HERE} rows of the members it holds, not ${N}`, async (t) => {
      const { real, broadcast, stats, rows, ports, sides, members } = await setup(t, adapter);
      const hub = new MemoryBusHub();
      const origin = hub.node('origin');
      new DeliverySubscriber({ ...ports, bus: hub.node('here'), onError: (err) => t.error(err) }).start();
      const m = await broadcast('heard');
      // As the Redis bus carries a large audience: its id only.
      await origin.publish({ type: 'message_stored', messageId: m.id, institution: 'Sender U.' });
      await waitFor(() => stats.popups === HERE);
      for (const s of sides) await waitFor(() => popupIds(s).includes(m.id));
      t.equal(rows.recipients, HERE, 'the rows of the members held here');
      // The marks land after the pushes; the test ends once they have (nothing owed here any more).
      const held = members.map((u) => u.id);
      for (let i = 0; (await real.undeliveredAmong(held, 100)).length > 0; i++) {
        if (i > 1000) throw new Error('the delivered marks never landed');
        await new Promise((r) => setTimeout(r, 10));
      }
    });
  });
}

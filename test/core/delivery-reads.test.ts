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
import { DeliverySubscriber, PeriodicCatchUp, replayPending, type DeliveryPorts, type DeliveryStore } from '../../src/core/services/delivery.js';
import type { Message, Store } from '../../src/core/ports/store.js';
import { MemoryBusHub } from '../../src/adapters/memory/bus.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { LocalConnections } from '../../src/server/local-connections.js';
import { popupConnection, popupOutlet } from '../../src/server/delivery.js';
import { TrafficStats } from '../../src/server/stats.js';
import { seedMembers, seedPostgresMembers } from '../../bench/lib/seed.js';
import { requireCapability } from '../helpers/capability.js';
import { serverSideConnection as connect, waitFor, type ServerSideConnection } from '../helpers/server-connection.js';
import { freshPostgresDatabase, openPostgresStore, postgresMissing } from '../contract/store/adapters.js';
import { tempDir } from '../adapters/sqlite/helpers.js';

/** Recipients of each broadcast. */
const N = 2000;
/** Of them, connected to the node under test. */
const HERE = 10;
const BROADCASTS = 3;

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

    t.test(`the replay at login reads one recipient row a broadcast, not ${N}`, async (t) => {
      const { broadcast, rows, ports, sides, members } = await setup(t, adapter);
      const sent: number[] = [];
      for (let i = 0; i < BROADCASTS; i++) sent.push((await broadcast(`b${i}`)).id);
      t.equal(await replayPending({ store: ports.store, counters: ports.counters, maxPopupsAtLogin: 100 }, popupConnection(sides[0]!.conn, members[0]!.id)), BROADCASTS);
      t.equal(rows.recipients, BROADCASTS, 'its own row of each');
      await waitFor(() => popupIds(sides[0]!).length === BROADCASTS);
      t.strictSame(popupIds(sides[0]!), sent);
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

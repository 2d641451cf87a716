/**
 * What a popup across nodes costs the store (issue 19, bench scenario 10): three real nodes on one
 * store and one Redis, the sender on A, the recipient on B, C holding neither. Every node used to
 * read each stored message from the store when it heard its wake-up (the message, its recipients,
 * attachments and alert), whether or not it held a recipient: under cross-node traffic the nodes'
 * connection pools queued those reads, and popups and OKs waited seconds behind them while
 * PostgreSQL and the nodes sat idle. A message with few recipients now travels with its wake-up.
 *
 * Counted, not timed: the store reads the nodes make for the wake-ups (none on B, none on C), with
 * the periodic catch-up set to an hour so that only the wake-ups can deliver. What B pushes is the
 * popup A pushes to a recipient of its own, to the character (the body travels cut to the preview),
 * and B still records each popup delivered.
 */
import path from 'node:path';
import t, { type Test } from 'tap';
import { SiarClient, type PopupRecord } from '../../../src/client/index.js';
import { RedisBus, CARRIED_RECIPIENTS_MAX } from '../../../src/adapters/redis/bus.js';
import type { BusEvent } from '../../../src/core/ports/bus.js';
import type { Message, Store } from '../../../src/core/ports/store.js';
import { PREVIEW_CHARS } from '../../../src/protocol/index.js';
import { requireCapability } from '../../helpers/capability.js';
import { startServer, until, type TestServer } from '../../helpers/siar.js';
import { seedMembers } from '../../reliability/helpers.js';
import { clusterBus, freshPrefix, redisMissing, redisUrl } from '../../contract/redis.js';

/** This file's Redis database (test/contract/redis.ts, clusterBus). */
const REDIS_DB = 9;
const HOUR_MS = 3_600_000;

/** The store reads that deliver a message heard on the bus (or caught up), counted on one node's store. */
const DELIVERY_READS = ['getMessage', 'getMessageFor', 'alertsOf', 'listUndelivered', 'undeliveredAmong'] as const;

function countReads(store: Store): { reads: () => Record<string, number>; reset: () => void } {
  const counts: Record<string, number> = {};
  const target = store as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of DELIVERY_READS) {
    const real = target[name]!.bind(store);
    counts[name] = 0;
    target[name] = (...args: unknown[]) => { counts[name]!++; return real(...args); };
  }
  return {
    reads: () => ({ ...counts }),
    reset: () => { for (const name of DELIVERY_READS) counts[name] = 0; },
  };
}

const none = Object.fromEntries(DELIVERY_READS.map((n) => [n, 0]));

/** `n` nodes on this file's Redis and one store, the periodic catch-up an hour apart (only wake-ups deliver). */
async function nodes(t: Test, n: number): Promise<TestServer[]> {
  const quiet = { bus: await clusterBus(REDIS_DB), catchUpIntervalMs: HOUR_MS };
  const first = await startServer(t, { ...quiet, nodeId: `a-${process.pid}` });
  const store = path.join(first.dataDir, 'siar.db');
  const all = [first];
  for (let i = 1; i < n; i++) all.push(await startServer(t, { ...quiet, nodeId: `${'abc'[i]}-${process.pid}`, store }));
  return all;
}

t.test('popups sent on node A to a member on node B: no store read on B or C, the same popup as on A, marked delivered', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const [a, b, c] = (await nodes(t, 3)) as [TestServer, TestServer, TestServer];
  const { password: bobPassword } = await a.member('bob');
  const { password: carolPassword } = await a.member('carol');
  const alice = await a.memberClient('alice');
  const bob = await SiarClient.connect({ host: '127.0.0.1', port: b.port });
  t.teardown(() => bob.close());
  await bob.login('bob', bobPassword);
  const carol = await SiarClient.connect({ host: '127.0.0.1', port: a.port });
  t.teardown(() => carol.close());
  await carol.login('carol', carolPassword);
  const onB: PopupRecord[] = [];
  const onA: PopupRecord[] = [];
  bob.on('popup', (p) => onB.push(p));
  carol.on('popup', (p) => onA.push(p));
  const readsB = countReads(b.server.store);
  const readsC = countReads(c.server.store);

  // Sent at once, as the bench's senders do; bodies past the preview, with characters of two code units.
  const long = `${'🎓 Undangan seminar nasional. '.repeat(20)}Akhir.`;
  t.ok([...long].length > PREVIEW_CHARS + 1, 'a body longer than the preview');
  const sends = Array.from({ length: 20 }, (_, i) => alice.send({
    to: ['bob', 'carol'], subject: `across ${i}`, body: i % 2 === 0 ? long : `short ${i}`, ...(i === 5 ? { priority: 'high' as const, ack: true } : {}),
  }));
  const sent = (await Promise.all(sends)).map((r) => r.id);
  await until('bob has every popup on node B', () => onB.length >= sent.length, 30_000);
  await until('carol has every popup on node A', () => onA.length >= sent.length, 30_000);

  t.same(readsB.reads(), none, 'node B pushed every popup without reading the store');
  t.same(readsC.reads(), none, 'node C, holding no recipient, did not read the store either');
  const byId = (list: PopupRecord[]) => [...list].sort((x, y) => x.id - y.id);
  t.same(byId(onB).map((p) => p.id), [...sent].sort((x, y) => x - y), 'each popup once on B');
  t.same(byId(onB), byId(onA), 'what B pushed is what A pushed (preview, priority, ack, time, institution)');
  t.equal(onB.find((p) => p.subject === 'across 5')?.priority, 'high', 'the alert travelled with the message');
  t.match(onB.find((p) => p.subject === 'across 0')?.preview, /…$/, 'a long body shows as its preview');

  // B records the popups it pushed delivered, so nothing is pushed again at bob's next login.
  await until('every popup on B recorded delivered', async () => {
    for (const id of sent) {
      const m = await a.server.store.getMessage(id);
      if (!m?.recipients.find((r) => r.username === 'bob')?.deliveredAt) return false;
    }
    return true;
  }, 30_000);
  const again = await SiarClient.connect({ host: '127.0.0.1', port: b.port });
  t.teardown(() => again.close());
  const replayed: number[] = [];
  again.on('popup', (p) => replayed.push(p.id));
  await again.login('bob', bobPassword);
  await again.request('WHOAMI');
  t.same(replayed, [], 'nothing owed at the next login');
});

t.test('a broadcast stored on node A: node B pushes to the members it holds without reading the store, and records them delivered', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const [a, b] = (await nodes(t, 2)) as [TestServer, TestServer];
  // More members than a wake-up carries one by one (a snapshot audience), straight into the store.
  const password = 'broadcast-across-nodes-1';
  const names = Array.from({ length: CARRIED_RECIPIENTS_MAX + 6 }, (_, i) => `m${String(i).padStart(3, '0')}`);
  await seedMembers(a.dataDir, names, password);
  const onB = new Map<string, number[]>();
  for (const name of names.slice(0, 3)) {
    const client = await SiarClient.connect({ host: '127.0.0.1', port: b.port });
    t.teardown(() => client.close());
    await client.login(name, password);
    onB.set(name, []);
    client.on('popup', (p) => onB.get(name)!.push(p.id));
  }
  const alice = await a.memberClient('alice');
  const readsB = countReads(b.server.store);
  const sent = await alice.send({ all: true, subject: 'to everyone', body: 'across nodes' });
  t.ok(sent.recipients > CARRIED_RECIPIENTS_MAX, `${sent.recipients} recipients`);
  await until('every member on B has the popup', () => [...onB.values()].every((ids) => ids.length === 1), 30_000);
  t.same(readsB.reads(), none, 'node B pushed without reading the store');
  t.same([...onB.values()], [[sent.id], [sent.id], [sent.id]], 'once each');
  await until('B recorded them delivered', async () => {
    const stored = await a.server.store.getMessage(sent.id);
    return names.slice(0, 3).every((n) => stored?.recipients.find((r) => r.username === n)?.deliveredAt);
  }, 30_000);
});

t.test('the Redis bus carries a small message with its wake-up (body cut to the preview), a fresh large audience as its ids, anything else as its id', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const url = await redisUrl();
  const prefix = freshPrefix();
  const from = await RedisBus.connect(url, 'from', { prefix });
  const to = await RedisBus.connect(url, 'to', { prefix });
  t.teardown(() => Promise.all([from.close(), to.close()]));
  const heard: BusEvent[] = [];
  to.subscribe((e) => heard.push(e));
  const heardBack: BusEvent[] = [];
  from.subscribe((e) => heardBack.push(e));
  const message = (recipients: number, via: (i: number) => string | null = () => null): Message => ({
    id: 7, senderId: 1, sender: 'alice', audience: recipients === 1 ? 'direct' : 'list', subject: 's', body: `${'😀'.repeat(400)}`,
    sentAt: '2026-12-07T16:00:00.000Z', state: 'sent', uploadDeadline: null, attachments: [], via: null,
    recipients: Array.from({ length: recipients }, (_, i) => ({ userId: i + 2, username: `m${i}`, deliveredAt: null, readAt: null, via: via(i) })),
  });
  const routed = (i: number): string | null => (i % 3 === 0 ? '#news' : i % 3 === 1 ? '@staff,@deans' : null);
  await from.publish({ type: 'message_stored', messageId: 7, institution: 'U', message: message(CARRIED_RECIPIENTS_MAX), alert: null });
  const large = { ...message(CARRIED_RECIPIENTS_MAX + 1, routed), recipientRowsPending: true as const };
  const someoneHadIt = message(CARRIED_RECIPIENTS_MAX + 1);
  someoneHadIt.recipients[3]!.deliveredAt = '2026-12-07T16:00:01.000Z';
  const unknownAlert = message(1);
  await from.publish({ type: 'message_stored', messageId: 7, institution: 'U', message: large, alert: null });
  await from.publish({ type: 'message_stored', messageId: 7, institution: 'U', message: someoneHadIt, alert: null });
  await from.publish({ type: 'message_stored', messageId: 7, institution: 'U', message: unknownAlert });
  await until('four events heard', () => heard.length === 4, 10_000);
  const [small, fresh, bare, noAlert] = heard as Array<Extract<BusEvent, { type: 'message_stored' }>>;
  t.equal(small!.message?.recipients.length, CARRIED_RECIPIENTS_MAX, 'a small audience travels with its recipients');
  t.equal(small!.message?.body, '😀'.repeat(PREVIEW_CHARS + 1), 'the body as far as the preview reads it, cut between characters');
  t.equal(small!.alert, null, 'and its alert (none)');
  const byId = (rs: Message['recipients']) => [...rs].sort((x, y) => x.userId - y.userId).map((r) => [r.userId, r.via ?? null, r.deliveredAt]);
  t.same(byId(fresh!.message!.recipients), byId(large.recipients), 'a large audience nobody has had yet travels with its recipients and their routes');
  t.equal(fresh!.message?.body, '😀'.repeat(PREVIEW_CHARS + 1), 'its body cut to the preview too');
  t.equal(fresh!.message?.recipientRowsPending, true);
  t.same(bare, { type: 'message_stored', messageId: 7, institution: 'U' }, 'a large audience with a recipient state travels as its id');
  t.same(noAlert, { type: 'message_stored', messageId: 7, institution: 'U' }, 'so does a message whose alert the publisher did not know');

  // The publishing node hears what travelled as an id whole (it needs every recipient, and has
  // them): no store read of a broadcast's rows there. The same id twice is told apart.
  await until('four events heard back', () => heardBack.length === 4, 10_000);
  const [, ownFresh, ownBare, ownNoAlert] = heardBack as Array<Extract<BusEvent, { type: 'message_stored' }>>;
  t.same(byId(ownFresh!.message!.recipients), byId(large.recipients), 'its own fresh large message, with every recipient');
  t.equal(ownBare!.message, someoneHadIt, 'its own large message that travelled as its id: the one it published, every recipient and the whole body');
  t.equal(ownBare!.alert, null);
  t.equal(ownNoAlert!.message, unknownAlert, 'and the next one with the same id: its own');
  t.equal(ownNoAlert!.alert, undefined, 'its alert still unknown (read by delivery)');
});

/**
 * The per-member sending rate across two real nodes (issue 19): two siar servers on one store and
 * one Redis (--bus). A member logged in on both counts once: sends through node A and node B together
 * stop at --max-sends-per-minute (RATE_LIMITED with its retry sentence, on either node), and MEMBERS
 * on either node shows the cluster-wide count. Before the count moved to Redis, each node counted its
 * own sends: the third send through B passed.
 */
import path from 'node:path';
import t from 'tap';
import { RemoteError, SiarClient } from '../../../src/client/connection.js';
import { requireCapability } from '../../helpers/capability.js';
import { clientFrom, startServer } from '../../helpers/siar.js';
import { clusterBus, redisMissing } from '../../contract/redis.js';

/** This file's Redis database (test/contract/redis.ts, clusterBus). */
const REDIS_DB = 8;
const LIMIT = 4;
const MINUTE = 60_000;

t.test('sends through node A and node B together stop at the limit; MEMBERS on either node shows the cluster-wide count', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  // The window slides: sends at the very end of a minute start to fade at the next. With a limit of
  // 4 the verdicts below hold for 15 s into the next minute, the count shown for 7.5 s; so the test
  // does not begin in the last 10 s of a minute (a wait of 10 s at most, no timed assertion).
  const left = MINUTE - (Date.now() % MINUTE);
  if (left < 10_000) await new Promise((resolve) => setTimeout(resolve, left + 100));

  const bus = await clusterBus(REDIS_DB);
  const a = await startServer(t, { bus, nodeId: `a-${process.pid}`, maxSendsPerMinute: LIMIT });
  const b = await startServer(t, { bus, nodeId: `b-${process.pid}`, maxSendsPerMinute: LIMIT, store: path.join(a.dataDir, 'siar.db') });
  await a.member('ugm');
  const { password } = await a.member('unhas');
  const onA = await a.memberClient('unhas');
  const onB = await SiarClient.connect({ host: '127.0.0.1', port: b.port });
  t.teardown(() => onB.close());
  await onB.login('unhas', password);

  const sent: string[] = [];
  for (let i = 0; i < LIMIT; i++) {
    const through = i % 2 === 0 ? onA : onB;
    sent.push((await through.request('SEND', { to: 'ugm', subject: `rate-${i}`, body: 'b' })).args.get('id') ?? '');
  }
  t.equal(sent.filter(Boolean).length, LIMIT, `${LIMIT} sends, half through each node, accepted`);
  for (const [name, through] of [['B', onB], ['A', onA]] as const) {
    const refused = await through.request('SEND', { to: 'ugm', subject: `over-${name}`, body: 'b' }).catch((e: unknown) => e);
    t.type(refused, RemoteError, `node ${name} refuses the next send`);
    t.equal((refused as RemoteError).code, 'RATE_LIMITED');
    t.match((refused as Error).message, new RegExp(`You may send ${LIMIT} messages a minute and have reached that; nothing was sent\\. Try again in \\d+ s\\.`));
  }

  for (const [name, node] of [['A', a], ['B', b]] as const) {
    // B shares A's store, so A's administrator (whose password is in A's data directory).
    const admin = await clientFrom(t, node, '127.0.0.1');
    await admin.login('admin', a.adminPassword());
    const unhas = (await admin.request('MEMBERS', { q: 'unhas' })).items[0]!;
    t.equal(unhas.get('sentLastMinute'), String(LIMIT), `MEMBERS on node ${name} counts the sends through both nodes`);
    t.equal(unhas.get('maxSendsPerMinute'), String(LIMIT));
  }
});

/**
 * STATS on two real nodes (issue 19): `siar admin stats` asked of node B shows B's own figures, a
 * line per node with what each counted since it started (A's message sent through A included), and
 * the cluster's total; --json carries them as node= and total=.
 */
import path from 'node:path';
import t from 'tap';
import { requireCapability } from '../../helpers/capability.js';
import { siar } from '../../helpers/cli.js';
import { startServer, until } from '../../helpers/siar.js';
import { clusterBus, redisMissing } from '../../contract/redis.js';

/** This file's Redis database (test/contract/redis.ts, clusterBus). */
const REDIS_DB = 13;

t.test('siar admin stats shows every node\'s counts and the total', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const bus = await clusterBus(REDIS_DB);
  const a = await startServer(t, { bus, nodeId: 'node-a' });
  const b = await startServer(t, { bus, nodeId: 'node-b', store: path.join(a.dataDir, 'siar.db') });
  await a.member('bob');
  const alice = await a.memberClient('alice');
  await alice.request('SEND', { to: 'bob', subject: 'counted on A', body: 'one message' });
  await alice.request('SEND', { to: 'bob', subject: 'counted on A', body: 'two messages' });
  const env = { SIAR_SERVER: `127.0.0.1:${b.port}`, SIAR_USER: 'admin', SIAR_PASSWORD: a.adminPassword() };

  // A's counts reach the shared counters within a flush (5 s).
  let json: Record<string, unknown> = {};
  await until('node A\'s two messages are in B\'s STATS', async () => {
    const r = await siar(['admin', 'stats', '--json', '--minutes', '1'], env);
    if (r.code !== 0) throw new Error(r.stderr);
    json = JSON.parse(r.stdout) as Record<string, unknown>;
    return ([json.node].flat() as string[]).some((n) => n.startsWith('2,') && n.endsWith(',node-a'));
  }, 20_000);
  t.equal(json.nodeId, 'node-b', 'B answered');
  t.equal(json.messages, '0', 'its own figures are B\'s: no message went through B');
  const nodes = [json.node].flat() as string[];
  t.same(nodes.map((n) => n.split(',').at(-1)).sort(), ['node-a', 'node-b'], 'a line per node');
  t.match(json.total, /^2,/, 'the total has A\'s two messages');

  const r = await siar(['admin', 'stats', '--minutes', '1'], env);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /^2 nodes, each since it started \(\* node-b, whose figures are above\):$/m);
  t.match(r.stdout, /^ node-a\s+2\s+\d+\s/m, 'node A\'s line counts its two messages');
  t.match(r.stdout, /^\*node-b\s+0\s+\d+\s/m, 'node B\'s line, marked as the one that answered');
  t.match(r.stdout, /^ all nodes\s+2\s/m, 'the total');
  const table = r.stdout.slice(r.stdout.indexOf('2 nodes, each')).trimEnd().split('\n');
  t.equal(table.length, 5, 'the heading, the columns, two nodes, the total');
  t.ok(table.every((l) => [...l].length <= 80), 'each fits 80 columns');
});

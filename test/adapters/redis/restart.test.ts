/**
 * Redis restarts under two running nodes (issue 19): sends go on being acknowledged while it is
 * down (the store is the source of truth, a wake-up is only a wake-up), and once it is back the
 * nodes reconnect and re-subscribe by themselves; every popup sent meanwhile reaches the member on
 * the other node, once, within the catch-up interval; presence, which Redis forgot, is written again.
 *
 * A private Redis (scripts/services.ts), so restarting it disturbs no other test file; without
 * Redis installed the file is skipped, except under CI.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { SiarClient } from '../../../src/client/index.js';
import { redisServerPath, startRedis } from '../../../scripts/services.js';
import { requireCapability } from '../../helpers/capability.js';
import { startServer, until } from '../../helpers/siar.js';

t.setTimeout(120_000);

t.test('Redis restarted between two nodes: sends acknowledged meanwhile, every popup delivered once after, presence restored', async (t) => {
  if (!requireCapability(t, 'Redis', redisServerPath() ? false : 'Redis is not installed (apt-get install redis-server)')) return;
  const dir = mkdtempSync(path.join(tmpdir(), 'siar-redis-restart-'));
  const redis = await startRedis(path.join(dir, 'redis'));
  t.teardown(async () => { await redis.stop(); rmSync(dir, { recursive: true, force: true }); });

  const a = await startServer(t, { bus: redis.url, nodeId: 'a', catchUpIntervalMs: 500 });
  const b = await startServer(t, { bus: redis.url, nodeId: 'b', catchUpIntervalMs: 500, store: path.join(a.dataDir, 'siar.db') });
  const { password } = await a.member('bob');
  const alice = await a.memberClient('alice');
  const bob = await SiarClient.connect({ host: '127.0.0.1', port: b.port });
  t.teardown(() => bob.close());
  await bob.login('bob', password);
  const popups: number[] = [];
  bob.on('push', (e, args) => { if (e === 'POPUP') popups.push(Number(args.get('id'))); });

  const sent = [(await alice.send({ to: ['bob'], subject: 'before' })).id];
  await until('the first popup', () => popups.length === 1, 20_000);

  await redis.stop();
  for (let i = 0; i < 3; i++) sent.push((await alice.send({ to: ['bob'], subject: `while Redis is down ${i}` })).id);
  t.equal(sent.length, 4, 'sends are acknowledged while Redis is down');
  await redis.start();
  sent.push((await alice.send({ to: ['bob'], subject: 'after' })).id);

  await until('every popup', () => popups.length >= sent.length, 30_000);
  await new Promise((r) => setTimeout(r, 1200)); // two more catch-up ticks: nothing twice
  t.same(popups, sent, 'each popup once, in order');

  const admin = await a.adminClient();
  await until('presence written again', async () => {
    const online = await admin.request('ONLINE');
    return online.items.some((i) => i.get('username') === 'bob');
  }, 20_000);
  t.pass('node A sees bob on node B again');
});

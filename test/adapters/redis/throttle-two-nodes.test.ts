/**
 * The login throttle across two real nodes (issue 19): two siar servers on one store and one Redis
 * (--bus). Wrong passwords through node A count toward the lock on node B, the owner still gets in
 * from its own address, and failures on one username from several addresses through both nodes
 * alert the administrator once. Attackers play other hosts from 127.0.0.0/8 (`localAddress`).
 */
import path from 'node:path';
import t, { type Test } from 'tap';
import type { Args } from '../../../src/protocol/index.js';
import { DEFAULT_THROTTLE, type ThrottleOptions } from '../../../src/server/throttle.js';
import { requireCapability } from '../../helpers/capability.js';
import { clientFrom, loginCode, sqliteDb, startServer, until, type TestServer } from '../../helpers/siar.js';
import { clusterBus, redisMissing } from '../../contract/redis.js';

/** This file's Redis database (test/contract/redis.ts, clusterBus). */
const REDIS_DB = 12;


/** Nodes A and B on A's SQLite file and one Redis database (emptied first), with this throttle. */
async function twoNodes(t: Test, throttle: Partial<ThrottleOptions>): Promise<[TestServer, TestServer]> {
  const bus = await clusterBus(REDIS_DB);
  const loginThrottle = { ...DEFAULT_THROTTLE, baseDelayMs: 5, maxDelayMs: 20, ...throttle };
  const a = await startServer(t, { bus, nodeId: `a-${process.pid}`, loginThrottle });
  const b = await startServer(t, { bus, nodeId: `b-${process.pid}`, loginThrottle, store: path.join(a.dataDir, 'siar.db') });
  return [a, b];
}

const auditCount = (s: TestServer, kind: string): number =>
  sqliteDb(s.server).prepare<[string], number>('SELECT count(*) FROM audit_events WHERE kind = ?').pluck().get(kind)!;

t.test('failures through node A lock the pair on node B; the owner gets in from its own address', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const [a, b] = await twoNodes(t, { lockoutFailures: 6 });
  const { password } = await a.member('target');
  const onA = await clientFrom(t, a, '127.0.0.2');
  const codes: string[] = [];
  for (let i = 0; i < 4; i++) codes.push(await loginCode(onA, 'target', `guess-a-${i}`));
  const onB = await clientFrom(t, b, '127.0.0.2');
  for (let i = 0; i < 3; i++) codes.push(await loginCode(onB, 'target', `guess-b-${i}`));
  t.same(codes, ['BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'LOGIN_LOCKED'],
    'four failures on A and two on B lock the pair: B refuses the seventh');
  t.equal(await loginCode(onA, 'target', password), 'LOGIN_LOCKED', 'A refuses even the right password from the locked pair');
  t.equal(await loginCode(await clientFrom(t, b, '127.0.0.1'), 'target', password), 'OK', 'the owner logs in through B from its own address');
  t.equal(await loginCode(await clientFrom(t, a, '127.0.0.1'), 'target', password), 'OK', 'and through A');
  t.equal(auditCount(a, 'login_lockout'), 1, 'the lockout is audited once');
});

t.test('failures on one username from several addresses through both nodes alert the administrator once, and never lock', async (t) => {
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const [a, b] = await twoNodes(t, { freeFailures: 1, lockoutFailures: 4, alertFailures: 6 });
  const { password } = await a.member('target');
  const admin = await clientFrom(t, b, '127.0.0.1');
  await admin.login('admin', a.adminPassword());
  const alerts: Args[] = [];
  admin.on('push', (event, args) => { if (event === 'LOGIN_ALERT') alerts.push(args); });
  for (const [node, address] of [[a, '127.0.0.5'], [b, '127.0.0.6']] as const) {
    const c = await clientFrom(t, node, address);
    for (let i = 0; i < 3; i++) t.equal(await loginCode(c, 'target', `distributed-${address}-${i}`), 'BAD_CREDENTIALS');
  }
  await until('the LOGIN_ALERT push', () => alerts.length > 0, 5000).catch(() => undefined);
  t.equal(alerts.length, 1, 'one alert, heard by the administrator on node B');
  t.equal(alerts[0]?.get('failures'), '6');
  t.match(alerts[0]?.get('addresses'), /127\.0\.0\.5/);
  t.match(alerts[0]?.get('addresses'), /127\.0\.0\.6/);
  t.equal(auditCount(a, 'login_alert'), 1, 'audited once');
  t.equal(await loginCode(await clientFrom(t, a, '127.0.0.1'), 'target', password), 'OK', 'the owner logs in: the username is never locked');
});

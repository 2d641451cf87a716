/** The connection cap follows the open-files limit (src/server/fd-limit.ts). */
import { readFileSync } from 'node:fs';
import t from 'tap';
import { defaultConfig } from '../../src/server/default-config.js';
import {
  FALLBACK_MAX_CONNECTIONS, TRANSFERS_AT_FULL, connectionsAllowed, fdReserve, parseOpenFilesLimit, planConnectionCap, readOpenFilesLimit,
} from '../../src/server/fd-limit.js';

const LIMITS = `Limit                     Soft Limit           Hard Limit           Units
Max cpu time              unlimited            unlimited            seconds
Max open files            20000                20000                files
Max locked memory         8388608              8388608              bytes
`;

t.test('reads the soft open-files limit from /proc/self/limits', async (t) => {
  t.equal(parseOpenFilesLimit(LIMITS), 20_000);
  t.equal(parseOpenFilesLimit(LIMITS.replace('20000                20000', '1024                 4096')), 1024, 'the soft limit is the one that applies');
  t.equal(parseOpenFilesLimit(LIMITS.replace('20000                20000', 'unlimited            unlimited')), null, 'unlimited: no figure to follow');
  t.equal(parseOpenFilesLimit('nothing here'), null);
  t.equal(readOpenFilesLimit('/nonexistent/limits'), null, 'no such file (not Linux): null');
  if (process.platform === 'linux') {
    // Node raises the soft limit to the hard one at start-up.
    const hard = Number(/^Max open files\s+\S+\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
    t.equal(readOpenFilesLimit(), hard, 'in this process the soft limit is the hard one');
  }
});

t.test('the default cap is the limit minus a reserve counted from the config', async (t) => {
  const reserve = fdReserve({ maxTransfers: 256 });
  t.equal(reserve.parts.transfers, 3 * TRANSFERS_AT_FULL, 'transfers: 3 descriptors each for the ones kept at full');
  t.equal(reserve.total, Object.values(reserve.parts).reduce((a, b) => a + b, 0));
  t.ok(reserve.total >= 100 && reserve.total <= 200, `a reserve of ${reserve.total}`);
  const cap = connectionsAllowed(20_000, { maxTransfers: 256 });
  t.equal(cap, 20_000 - reserve.total);
  t.ok(cap >= 19_800 && cap < 19_900, `about 19,900 at a limit of 20,000 (${cap})`);
  t.equal(fdReserve({ maxTransfers: 4 }).parts.transfers, 12, 'fewer transfers allowed, fewer kept');
  t.ok(connectionsAllowed(20_000, { maxTransfers: 4 }) > cap);
  t.equal(connectionsAllowed(50, { maxTransfers: 256 }), 1, 'never below one');
});

t.test('--max-connections: kept when the limit allows it, clamped when not, the old default without a limit', async (t) => {
  const cfg = { maxTransfers: 256 };
  const allowed = connectionsAllowed(20_000, cfg);
  t.match(planConnectionCap(undefined, 20_000, cfg), { maxConnections: allowed, source: 'default', openFilesLimit: 20_000 });
  t.match(planConnectionCap(2, 20_000, cfg), { maxConnections: 2, source: 'requested' });
  t.match(planConnectionCap(allowed, 20_000, cfg), { maxConnections: allowed, source: 'requested' });
  t.match(planConnectionCap(50_000, 20_000, cfg), { maxConnections: allowed, source: 'clamped' });
  t.match(planConnectionCap(undefined, null, cfg), { maxConnections: FALLBACK_MAX_CONNECTIONS, source: 'fallback', openFilesLimit: null });
  t.match(planConnectionCap(50_000, null, cfg), { maxConnections: 50_000, source: 'requested' }, 'no limit known: the operator\'s word');
});

t.test('defaultConfig follows this process\'s limit unless told otherwise', async (t) => {
  const limit = readOpenFilesLimit();
  const expected = limit === null ? FALLBACK_MAX_CONNECTIONS : connectionsAllowed(limit, { maxTransfers: 256 });
  t.equal(defaultConfig().maxConnections, expected);
  t.equal(defaultConfig({ maxConnections: 7 }).maxConnections, 7);
  if (limit !== null) t.equal(defaultConfig({ maxTransfers: 2 }).maxConnections, connectionsAllowed(limit, { maxTransfers: 2 }), 'the reserve reads the merged config');
});

/**
 * LockWait (issue 20 item 8) on a real database file: a second connection holds BEGIN EXCLUSIVE, as
 * another process would. Writes that meet the lock wait without blocking the event loop, run in
 * the order they were asked for once it is released, and give up (StoreError 'busy') after maxWaitMs.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import Sqlite from 'better-sqlite3';
import t, { type Test } from 'tap';
import { LOCK_SPIN_MS, LockWait } from '../../../src/adapters/sqlite/lock-wait.js';
import { tempDir } from './helpers.js';

function twoConnections(t: Test) {
  const file = join(tempDir(t), 'lock.db');
  const db = new Sqlite(file);
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE log (n INTEGER)');
  db.pragma(`busy_timeout = ${LOCK_SPIN_MS}`);
  const other = new Sqlite(file);
  t.teardown(() => {
    if (other.inTransaction) other.exec('ROLLBACK');
    other.close();
    db.close();
  });
  const insert = db.prepare('INSERT INTO log (n) VALUES (?)');
  const write = db.transaction((n: number) => { insert.run(n); });
  return { db, other, write: (n: number) => () => write.immediate(n) };
}

/** The longest gap between ticks of a 5 ms interval while `during` runs: how long the event loop was held. */
async function longestStall(during: Promise<unknown>): Promise<number> {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  await during.catch(() => undefined);
  clearInterval(timer);
  return worst;
}

t.test('writes that meet the lock wait off the event loop and run in order once it is released', async (t) => {
  const { db, other, write } = twoConnections(t);
  const lockWait = new LockWait(10_000);
  other.exec('BEGIN EXCLUSIVE');
  const done: number[] = [];
  const writes = [1, 2, 3, 4, 5].map((n) => Promise.resolve(lockWait.write(write(n))).then(() => done.push(n)));
  t.equal(lockWait.waiting, 5, 'all five wait');
  const stall = longestStall(Promise.all(writes));
  await sleep(500);
  t.strictSame(done, [], 'nothing is written while the lock is held');
  other.exec('COMMIT');
  const worst = await stall;
  t.strictSame(done, [1, 2, 3, 4, 5], 'after the release, all five, in the order asked for');
  t.strictSame(db.prepare('SELECT n FROM log ORDER BY rowid').pluck().all(), [1, 2, 3, 4, 5], 'and committed in that order');
  // SQLite's own wait would have held the loop the whole 500 ms; a loaded machine adds its own gaps.
  t.ok(worst < 250, `the event loop was never held for the lock (longest gap between 5 ms ticks: ${worst.toFixed(1)} ms)`);
  await lockWait.whenIdle();
  t.equal(lockWait.waiting, 0);
});

t.test('a write still locked out after maxWaitMs fails as a busy StoreError and writes nothing', async (t) => {
  const { db, other, write } = twoConnections(t);
  const lockWait = new LockWait(300);
  other.exec('BEGIN EXCLUSIVE');
  const started = Date.now();
  await t.rejects(Promise.resolve(lockWait.write(write(7))), { name: 'StoreError', kind: 'busy', failure: { reason: 'contention' }, cause: { code: 'SQLITE_BUSY' } }, 'the lock never came');
  const waited = Date.now() - started;
  t.ok(waited >= 300 && waited < 3_000, `after the wait (${waited} ms)`);
  other.exec('COMMIT');
  t.equal(db.prepare('SELECT count(*) FROM log').pluck().get(), 0, 'nothing was written');
  t.equal(lockWait.waiting, 0, 'and nothing waits');
  await lockWait.write(write(8));
  t.equal(db.prepare('SELECT count(*) FROM log').pluck().get(), 1, 'the next write goes through at once');
});

t.test('without a lock a write runs at once, and its own errors pass straight through', async (t) => {
  const { db, write } = twoConnections(t);
  const lockWait = new LockWait(1_000);
  const result = lockWait.write(() => { write(1)(); return 'done'; });
  t.equal(result, 'done', 'the result comes back as is, no promise made');
  t.throws(() => lockWait.write(() => db.prepare('INSERT INTO missing VALUES (1)').run()), /no such table/, 'a non-lock error is not waited on');
  t.equal(lockWait.read(() => db.prepare('SELECT count(*) FROM log').pluck().get()), 1, 'reads run at once');
});

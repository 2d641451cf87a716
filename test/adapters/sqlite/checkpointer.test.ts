/**
 * The write-ahead log is checkpointed by a worker thread (issue 8): the writer never copies the
 * log itself under steady load, so the log is reused from its start instead of growing until the
 * writer's own (backstop) checkpoint.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import t, { type Test } from 'tap';
import { SqliteStore } from '../../../src/adapters/sqlite/sqlite-store.js';
import type { User } from '../../../src/core/ports/store.js';
import { seedMembers, tempDir } from './helpers.js';

/** Writes about 1.2 MiB of messages (≈ 300 pages of log, under SQLite's own 1,000-page checkpoint), then returns the log's size. */
async function burst(store: SqliteStore, from: User, to: User, file: string): Promise<number> {
  await Promise.all(Array.from({ length: 250 }, (_, i) =>
    store.storeMessage({ senderId: from.id, audience: 'direct', recipientIds: [to.id], subject: `s${i}`, body: 'x'.repeat(2000) })));
  return statSync(`${file}-wal`).size;
}

/** The database file itself grows only when the log is copied into it (a checkpoint). */
async function databaseFileGrows(file: string, from: number, withinMs: number): Promise<boolean> {
  for (const started = Date.now(); Date.now() - started < withinMs; await sleep(50)) {
    if (statSync(file).size > from + 500_000) return true;
  }
  return false;
}

/**
 * True once the worker's latest report says every frame of the log is in the database file and no
 * newer report came for `settleMs` (the worker reports every change within its 50 ms round, so the
 * report describes the log as the idle writer left it): only then does the writer's next write
 * restart the log from its start. Growth of the database file alone was not enough: a checkpoint
 * still copying when the second burst began let that burst append (CI, 2026-12-07).
 */
async function workerCaughtUp(store: SqliteStore, withinMs: number, settleMs = 250): Promise<boolean> {
  for (const started = Date.now(); Date.now() - started < withinMs; await sleep(25)) {
    const p = store.checkpointProgress();
    if (p && p.logFrames > 0 && p.checkpointedFrames === p.logFrames && Date.now() - p.at >= settleMs) return true;
  }
  return false;
}

async function twoBursts(t: Test, checkpointInBackground: boolean) {
  const file = join(tempDir(t), 'siar.db');
  const store = SqliteStore.open(file, { checkpointInBackground });
  t.teardown(() => store.close());
  const [alice, bob] = (await seedMembers(store, ['alice', 'bob'])) as [User, User];
  const sizeBefore = statSync(file).size;
  const first = await burst(store, alice, bob, file);
  // The worker needs a moment to start (it loads the TypeScript loader), then checkpoints every 50 ms.
  const checkpointed = await databaseFileGrows(file, sizeBefore, checkpointInBackground ? 15_000 : 1_000);
  const caughtUp = checkpointInBackground && await workerCaughtUp(store, 15_000);
  const second = await burst(store, alice, bob, file);
  return { first, second, checkpointed, caughtUp, store, file };
}

t.test('with the worker, the log is checkpointed behind the writer and reused from its start', async (t) => {
  const { first, second, checkpointed, caughtUp } = await twoBursts(t, true);
  t.ok(first > 1_000_000, `the first burst went to the log (${first} bytes)`);
  t.ok(checkpointed, 'the worker copied it into the database file while the writer was idle');
  t.ok(caughtUp, 'and reported every frame of the log copied');
  t.ok(second < first * 1.3, `the second burst reused the log (${second} bytes, not ${first * 2})`);
});

t.test('without it (the control), the same writes grow the log', async (t) => {
  const { first, second, checkpointed } = await twoBursts(t, false);
  t.notOk(checkpointed, 'nothing copied the log into the database file');
  t.ok(second > first * 1.5, `${first} → ${second} bytes`);
});

t.test('close() stops the worker and leaves a clean, complete database', async (t) => {
  const { store, file } = await twoBursts(t, true);
  await store.close();
  let walLeft = 0;
  try { walLeft = statSync(`${file}-wal`).size; } catch { /* removed: the writer closed last */ }
  t.equal(walLeft, 0, 'the log is gone (the writer closed last and checkpointed the rest)');
  const report = SqliteStore.inspect(file);
  t.equal(report.integrity, 'ok');
  t.equal(report.messages, 500, 'both bursts are in the database file');
});

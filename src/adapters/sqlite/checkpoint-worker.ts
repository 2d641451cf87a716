// Runs in a worker thread (see checkpointer.ts): its own connection to the database checkpoints
// the write-ahead log every few milliseconds, so copying pages into the database file and the
// fsyncs that go with it happen off the server's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import Sqlite from 'better-sqlite3';
import type { CheckpointProgress, CheckpointWorkerData } from './checkpointer.js';

const { file, intervalMs, synchronous } = workerData as CheckpointWorkerData;
const db = new Sqlite(file, { fileMustExist: true });
db.pragma(`synchronous = ${synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);

/** What the last round found, so the parent hears only of changes (an idle log costs no messages). */
let reported = { log: -1, checkpointed: -1 };

const timer = setInterval(() => {
  try {
    // PASSIVE neither waits for the writer nor blocks it: it copies what is committed and no reader needs.
    const [result] = db.pragma('wal_checkpoint(PASSIVE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    if (result && (result.log !== reported.log || result.checkpointed !== reported.checkpointed)) {
      reported = { log: result.log, checkpointed: result.checkpointed };
      const progress: CheckpointProgress = { logFrames: result.log, checkpointedFrames: result.checkpointed, at: Date.now() };
      parentPort?.postMessage(progress);
    }
  } catch {
    // Busy or I/O trouble: the next round, or the writer's own (rarer) autocheckpoint, does it.
  }
}, intervalMs);

parentPort?.postMessage('ready');
parentPort?.on('message', (message: unknown) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});

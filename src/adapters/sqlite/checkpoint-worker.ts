// Runs in a worker thread (see checkpointer.ts): its own connection to the database checkpoints
// the write-ahead log every few milliseconds, so copying pages into the database file and the
// fsyncs that go with it happen off the server's event loop.
import { parentPort, workerData } from 'node:worker_threads';
import Sqlite from 'better-sqlite3';
import type { CheckpointWorkerData } from './checkpointer.js';

const { file, intervalMs, synchronous } = workerData as CheckpointWorkerData;
const db = new Sqlite(file, { fileMustExist: true });
db.pragma(`synchronous = ${synchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);

const timer = setInterval(() => {
  try {
    // PASSIVE neither waits for the writer nor blocks it: it copies what is committed and no reader needs.
    db.pragma('wal_checkpoint(PASSIVE)');
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

// Runs in a worker thread (see checkpointer.ts): its own connection to the database checkpoints
// the write-ahead log every few milliseconds, so copying pages into the database file and the
// fsyncs that go with it happen off the server's event loop.
//
// Plain JavaScript on purpose: a worker starts without the server's TypeScript loader, and loading
// tsx into it cost 30 MB and 10 descriptors for these few lines.
import { parentPort, workerData } from 'node:worker_threads';
import Sqlite from 'better-sqlite3';

/** @type {{ file: string; intervalMs: number; synchronous: 'NORMAL' | 'FULL' }} */
const { file, intervalMs, synchronous } = workerData;
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
parentPort?.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  db.close();
  parentPort?.close();
});

// The sha256 thread of upload hashes (src/transfer/hasher.ts). Plain JavaScript: a worker thread
// does not get the main thread's TypeScript loader. Messages from one port arrive in order, so
// every hash sees its bytes in the order the main thread posted them.
//   {op:'update', id, data}          data: a Uint8Array whose buffer was transferred to us; acked
//   {op:'file', id, file, length}    the first `length` bytes of a file (a resumed upload); acked
//   {op:'digest', id}                answers {op:'digest', id, hex} and forgets the hash
//   {op:'drop', id}                  forgets the hash
import { createHash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';

const hashes = new Map();
const CHUNK = 1024 * 1024;

function hashOf(id) {
  let h = hashes.get(id);
  if (!h) hashes.set(id, (h = createHash('sha256')));
  return h;
}

function hashFile(h, file, length) {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, length)));
    let done = 0;
    while (done < length) {
      const n = readSync(fd, buf, 0, Math.min(buf.length, length - done), done);
      if (n === 0) throw new Error(`${file} ended after ${done} of ${length} bytes`);
      h.update(buf.subarray(0, n));
      done += n;
    }
  } finally {
    closeSync(fd);
  }
}

parentPort.on('message', (m) => {
  try {
    if (m.op === 'update') {
      hashOf(m.id).update(m.data);
      parentPort.postMessage({ op: 'ack', id: m.id, bytes: m.data.length });
    } else if (m.op === 'file') {
      hashFile(hashOf(m.id), m.file, m.length);
      parentPort.postMessage({ op: 'ack', id: m.id, bytes: 0 });
    } else if (m.op === 'digest') {
      const hex = hashOf(m.id).digest('hex');
      hashes.delete(m.id);
      parentPort.postMessage({ op: 'digest', id: m.id, hex });
    } else if (m.op === 'drop') {
      hashes.delete(m.id);
    }
  } catch (err) {
    hashes.delete(m.id);
    parentPort.postMessage({ op: 'error', id: m.id, message: err instanceof Error ? err.message : String(err) });
  }
});

/**
 * The attachment-content variant of the raw-TCP peer (bench/lib/raw-tcp-peer.ts, same one-line
 * header): bytes move through siar's own transfer streams (src/transfer/streams.ts, as a shadow
 * socket moves them) into and out of an attachment-content adapter (src/core/ports/content.ts) —
 * without the control connection, tickets or the store, so the figure is the content store's cost.
 *   PUT <name> <size> <sha256>\n   then exactly <size> bytes; stored through the adapter, committed
 *                                   with the sha256 verified; answers `OK <sha256>\n`
 *   GET <name>\n                    the committed content read back through the adapter, then EOF
 * Usage: content-peer.ts fs DATA_DIR | content-peer.ts postgres URL
 */
import net from 'node:net';
import { FsContent } from '../../src/adapters/fs-content/fs-content.js';
import { PgContent } from '../../src/adapters/postgres/content.js';
import type { AttachmentContent } from '../../src/core/ports/content.js';
import { receiveUpload, sendDownload } from '../../src/transfer/streams.js';
import { readHeader } from './peer-header.js';

const [kind, where] = process.argv.slice(2);
if ((kind !== 'fs' && kind !== 'postgres') || !where) throw new Error('usage: content-peer.ts fs DIR | postgres URL');
const content: AttachmentContent = kind === 'fs' ? new FsContent(where) : await PgContent.open(where);
await content.init();

const keys = new Map<string, string>();
let nextId = 1;

// Half-open: the uploader ends its side after the bytes (as a shadow socket's peer does) and reads the verdict.
const server = net.createServer({ allowHalfOpen: true }, (socket) => {
  readHeader(socket, ([verb, name = '', sizeText, sha256 = ''], rest) => {
    const done = verb === 'PUT' ? put(socket, name, Number(sizeText), sha256, rest) : verb === 'GET' ? get(socket, name) : Promise.reject(new Error(verb));
    done.catch((err: Error) => {
      process.stderr.write(`content-peer: ${err.message}\n`);
      socket.destroy();
    });
  });
});

async function put(socket: net.Socket, name: string, size: number, sha256: string, first: Buffer): Promise<void> {
  const upload = await content.beginUpload(nextId++, { restart: true, maxSize: size });
  await receiveUpload(socket, first, {
    sink: (handlers) => upload.open(handlers), expected: size, hash: upload.hash, idleTimeoutMs: 60_000,
  });
  const key = await content.commit(upload, sha256, async (k) => k, async () => false);
  keys.set(name, key!);
  socket.end(`OK ${sha256}\n`);
}

async function get(socket: net.Socket, name: string): Promise<void> {
  const key = keys.get(name);
  if (!key) throw new Error(`no ${name}`);
  await sendDownload(socket, content.openRead(key, 0), { idleTimeoutMs: 60_000 });
}

server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as net.AddressInfo).port });
});
process.on('SIGTERM', () => {
  server.close();
  void content.close().finally(() => process.exit(0));
});

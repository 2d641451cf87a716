/**
 * The raw-TCP baseline for attachments: a minimal Node process that stores what a socket sends
 * into a file, or sends a file down a socket — what a shadow socket does without tickets, checks
 * or a database. Started with fork; tells its port over IPC. One header line per connection:
 *   PUT <name> <size> [sha256][,fsync]\n   then exactly <size> bytes; answers `OK <sha256?>\n` once the
 *                                  file is closed (and, with fsync, synced: what a store must do)
 *   GET <name>\n                   the file's bytes, then EOF
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { readHeader } from './peer-header.js';

const dir = process.argv[2];
if (!dir) throw new Error('usage: raw-tcp-peer.ts DIR');

const server = net.createServer((socket) => {
  readHeader(socket, ([verb, name, sizeText, flags = ''], rest) => {
    const file = path.join(dir, path.basename(name ?? 'x'));
    const opts = flags.split(',');
    if (verb === 'PUT') void put(socket, file, Number(sizeText), opts.includes('sha256'), opts.includes('fsync'), rest);
    else if (verb === 'GET') void get(socket, file);
    else socket.destroy();
  });
});

async function put(socket: net.Socket, file: string, size: number, hashing: boolean, sync: boolean, first: Buffer): Promise<void> {
  const out = createWriteStream(file);
  const hash = hashing ? createHash('sha256') : null;
  let got = 0;
  const take = (b: Buffer): void => {
    got += b.length;
    hash?.update(b);
    if (!out.write(b)) {
      socket.pause();
      out.once('drain', () => socket.resume());
    }
    if (got >= size) {
      socket.pause();
      out.end(() => {
        const reply = `OK ${hash ? hash.digest('hex') : ''}\n`;
        if (!sync) {
          socket.end(reply);
          return;
        }
        void open(file, 'r+').then(async (fh) => {
          await fh.sync();
          await fh.close();
          socket.end(reply);
        });
      });
    }
  };
  if (first.length > 0) take(first);
  if (got < size) {
    socket.on('data', take);
    socket.resume();
  }
}

async function get(socket: net.Socket, file: string): Promise<void> {
  try {
    await pipeline(createReadStream(file, { highWaterMark: 1024 * 1024 }), socket);
  } catch {
    socket.destroy();
  }
}

server.listen(0, '127.0.0.1', () => {
  process.send?.({ port: (server.address() as net.AddressInfo).port });
});
process.on('disconnect', () => process.exit(0));

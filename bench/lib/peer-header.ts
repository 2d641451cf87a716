/** The one header line a bench peer (raw-tcp-peer.ts, content-peer.ts) reads before the bytes. */
import type { Socket } from 'node:net';

/**
 * Reads up to the first newline, pauses the socket and calls `onHeader` with the line's words
 * and the bytes that came after it in the same reads.
 */
export function readHeader(socket: Socket, onHeader: (words: string[], rest: Buffer) => void): void {
  let head = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    head = Buffer.concat([head, chunk]);
    const nl = head.indexOf(0x0a);
    if (nl === -1) return;
    socket.off('data', onData);
    socket.pause();
    onHeader(head.subarray(0, nl).toString('utf8').split(' '), head.subarray(nl + 1));
  };
  socket.on('data', onData);
  socket.on('error', () => undefined);
}

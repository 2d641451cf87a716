/** Helpers for the attachment tests: real files in temp dirs, sample media, leak checks. */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Test } from 'tap';
import type { SiarClient } from '../../src/client/connection.js';
import {
  LineReader, decodeAttachment, decodeServerFrame, type Args, type AttachmentInfo, type ServerFrame,
} from '../../src/protocol/index.js';
import { encodeDeclaration, parseHostPort } from '../../src/transfer/wire.js';
import type { TestServer } from '../helpers/siar.js';

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Writes a file and returns its path. */
export function writeFile(dir: string, name: string, data: Buffer | string): string {
  const file = path.join(dir, name);
  writeFileSync(file, data);
  return file;
}

/** A 1×1 PNG: signature, IHDR, IDAT, IEND. */
export function pngBytes(): Buffer {
  return Buffer.from(
    '89504e470d0a1a0a0000000d4948445200000001000000010806000000' +
      '1f15c4890000000d49444154789c63f8cfc0f01f0005000201a9e2e1f90000000049454e44ae426082',
    'hex',
  );
}

/** A WAV file: RIFF/WAVE header and `samples` frames of 8 kHz 8-bit mono silence. */
export function wavBytes(samples = 800): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + samples, 4);
  header.write('WAVE', 8);
  header.write('fmt ', 12);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(8000, 28);
  header.writeUInt16LE(1, 32);
  header.writeUInt16LE(8, 34);
  header.write('data', 36);
  header.writeUInt32LE(samples, 40);
  return Buffer.concat([header, Buffer.alloc(samples, 0x80)]);
}

/** An MP4: an `ftyp` box (isom) followed by an `mdat` box of filler. */
export function mp4Bytes(payload = 4096): Buffer {
  const ftyp = Buffer.alloc(24);
  ftyp.writeUInt32BE(24, 0);
  ftyp.write('ftypisom', 4);
  ftyp.writeUInt32BE(512, 12);
  ftyp.write('isomiso2', 16);
  const mdat = Buffer.alloc(8 + payload, 7);
  mdat.writeUInt32BE(8 + payload, 0);
  mdat.write('mdat', 4);
  return Buffer.concat([ftyp, mdat]);
}

/** Deterministic pseudo-random bytes (so a failure reproduces). */
export function noise(size: number, seed = 1): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

/**
 * After a test's transfers: waits until the service is idle (events, no polling), then checks
 * that no shadow listener is live and no temporary file is left in <data>/tmp.
 */
export async function assertNothingLeft(t: Test, s: TestServer, message = 'nothing is left'): Promise<void> {
  await s.server.transfers.whenIdle();
  t.equal(s.server.transfers.liveListeners(), 0, `${message}: no live shadow listener`);
  t.equal(s.server.transfers.liveTransfers(), 0, `${message}: no live transfer`);
  t.strictSame(readdirSync(path.join(s.dataDir, 'tmp')), [], `${message}: no temp file`);
}

/** The files stored under <data>/attachments, as "ab/abcdef…" names. */
export function storedFiles(dataDir: string): string[] {
  const root = path.join(dataDir, 'attachments');
  return readdirSync(root).flatMap((fan) => readdirSync(path.join(root, fan)).map((f) => `${fan}/${f}`)).sort();
}

/** An UPLOAD or DOWNLOAD offer, as a raw client would read it. */
export interface RawOffer {
  transfer: string;
  host: string;
  port: number;
  ticket: string;
  offset: number;
}

export async function offer(client: SiarClient, verb: 'UPLOAD' | 'DOWNLOAD', args: Record<string, string | number>): Promise<RawOffer> {
  const a = (await client.request(verb, args)).args;
  const addr = parseHostPort(a.get('addr')!)!;
  return { transfer: a.get('transfer')!, host: addr.host, port: addr.port, ticket: a.get('ticket')!, offset: Number(a.get('offset')) };
}

/** A raw data connection, as nc would make one: optional local address, whatever it is sent. */
export class DataPeer {
  readonly chunks: Buffer[] = [];
  closed: Promise<void>;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => this.chunks.push(c));
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  static async connect(t: Test, o: { host: string; port: number }, localAddress?: string): Promise<DataPeer> {
    const socket = net.connect({ host: o.host, port: o.port, ...(localAddress ? { localAddress } : {}) });
    t.teardown(() => socket.destroy());
    await once(socket, 'connect');
    return new DataPeer(socket);
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  end(data?: string | Buffer): void {
    if (data !== undefined) this.socket.end(data);
    else this.socket.end();
  }

  get received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** The server's lines on this socket, once it has closed. */
  async frames(): Promise<ServerFrame[]> {
    await this.closed;
    const reader = new LineReader(1 << 20);
    return reader.push(this.received).filter((l) => l.ok).map((l) => decodeServerFrame((l as { line: string }).line));
  }
}

export interface FileSpec {
  name: string;
  data: Buffer;
}

/** SEND with attach= declarations for in-memory files; returns the message id and the declared attachments. */
export async function sendDeclared(
  client: SiarClient, to: string | string[], files: FileSpec[], extra: Record<string, string | number> = {},
): Promise<{ id: number; attachments: AttachmentInfo[]; args: Args }> {
  const reply = await client.request('SEND', {
    to, subject: 'Undangan', body: 'Lihat lampiran', ...extra,
    attach: files.map((f) => encodeDeclaration({ name: f.name, size: f.data.length, sha256: sha256(f.data) })),
  });
  const attachments = reply.args.getAll('attachment').map((v) => decodeAttachment(v)!);
  return { id: Number(reply.args.get('id')), attachments, args: reply.args };
}

/**
 * An upload as nc would do it: UPLOAD, connect, ticket line, the bytes, EOF (half-close), then
 * the server's verdict frame on the data socket (null if it closed without one).
 */
export async function rawUpload(
  t: Test, client: SiarClient, messageId: number, attachmentId: number, data: Buffer,
  opts: { localAddress?: string; ticket?: string } = {},
): Promise<{ offer: RawOffer; verdict: ServerFrame | null }> {
  const o = await offer(client, 'UPLOAD', { message: messageId, attachment: attachmentId });
  const peer = await DataPeer.connect(t, o, opts.localAddress);
  peer.write(`${opts.ticket ?? o.ticket}\n`);
  peer.end(data.subarray(o.offset));
  const [verdict = null] = await peer.frames();
  return { offer: o, verdict };
}

/** The password members get after their first login in these tests (the mailed one is single-use). */
export const OWN_PASSWORD = 'own-password-of-the-test';

/**
 * Logs a client in as a member and, if the server still asks for it, replaces the mailed
 * single-use password with OWN_PASSWORD, so every command works. Returns the password now valid.
 */
export async function loginMember(client: SiarClient, username: string, password: string): Promise<string> {
  const reply = await client.login(username, password);
  if (!reply.mustChangePassword) return password;
  await client.request('PASSWD', { old: password, new: OWN_PASSWORD });
  return OWN_PASSWORD;
}

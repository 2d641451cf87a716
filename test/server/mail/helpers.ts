/** Test helpers for the mail tests: a real SMTP receiver, a free port, a small .eml reader, a v1 sealed text. */
import { createCipheriv, randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { Writable } from 'node:stream';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

export interface Receiver {
  port: number;
  url: string;
  received: ReceivedMail[];
  /** Recipients refused for now (450 at RCPT TO, a temporary failure), lower case; add and delete at will. */
  refused: Set<string>;
  /** Resolves when `count` mails have arrived in total. */
  waitFor(count: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts a real SMTP server (no auth, no TLS) on 127.0.0.1 that records every mail it accepts. */
export async function startReceiver(port = 0): Promise<Receiver> {
  const received: ReceivedMail[] = [];
  const refused = new Set<string>();
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (!refused.has(address.address.toLowerCase())) return callback();
      callback(Object.assign(new Error('mailbox busy, try again later (test)'), { responseCode: 450 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', callback);
      stream.on('end', () => {
        const envelopeFrom = session.envelope.mailFrom;
        received.push({
          from: envelopeFrom ? envelopeFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
        });
        for (const w of waiters.splice(0)) {
          if (received.length >= w.count) w.resolve();
          else waiters.push(w);
        }
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return {
    port: address.port,
    url: `smtp://127.0.0.1:${address.port}`,
    received,
    refused,
    waitFor(count) {
      if (received.length >= count) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ count, resolve }));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A port on 127.0.0.1 on which nothing listens (it was free a moment ago). */
export async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

export interface ParsedMail {
  headers: Map<string, string>;
  text: string;
}

/** Reads a single-part RFC 5322 message: headers (unfolded, lower-case names) and the decoded text. */
export function parseEml(raw: string): ParsedMail {
  const match = /\r?\n\r?\n/.exec(raw);
  if (!match) throw new Error('no blank line between header and body');
  const head = raw.slice(0, match.index);
  const body = raw.slice(match.index + match[0].length);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`bad header line: ${line}`);
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  let text: string;
  if (encoding === 'base64') text = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  else if (encoding === 'quoted-printable') {
    const bytes = body
      .replace(/=\r?\n/g, '')
      .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    text = Buffer.from(bytes, 'latin1').toString('utf8');
  } else text = body;
  return { headers, text: text.replace(/\r\n/g, '\n') };
}

export function textLines(text: string): string[] {
  return text.replace(/\r\n/g, '\n').split('\n');
}

/** A writable stream that keeps everything written to it (for capturing pino output). */
export class Capture extends Writable {
  chunks: string[] = [];
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.chunks.push(chunk.toString());
    cb();
  }
  get output(): string {
    return this.chunks.join('');
  }
  get records(): Record<string, unknown>[] {
    return this.output
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }
}

/** A text as sealers sealed it before fingerprints (v1: no key named, no additional data), for the mail queued before them. */
export function sealV1(key: Buffer, text: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([cipher.update(text, 'utf8'), cipher.final()]);
  return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), ct.toString('base64')].join('.');
}

/**
 * The embedded mail folder, `<data>/mail/`: without --smtp every mail is written there as an .eml
 * file named `<ISO time>-<mail id>-<kind>.eml` (the time with `-` for `:`). This module names the
 * files, lists them and decodes one back to text, for `siar admin mail list|show`: an .eml is
 * CRLF-ended and may be quoted-printable, so reading it with grep is error-prone.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';

/** Where the file transport writes, inside a data directory. */
export function mailFolder(dataDir: string): string {
  return path.join(dataDir, 'mail');
}

/** `2026-11-26T01-16-45.648Z-12-credentials.eml`; the kind is made safe for a file name. */
export function mailFileName(writtenAt: Date, id: number, kind: string): string {
  const safeKind = kind.replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 40) || 'mail';
  return `${writtenAt.toISOString().replace(/:/g, '-')}-${id}-${safeKind}.eml`;
}

export interface MailFileEntry {
  id: number;
  kind: string;
  /** The file's name inside the mail folder. */
  name: string;
  /** ISO time the file was written. */
  writtenAt: string;
}

const NAME = /^(\d{4}-\d\d-\d\dT)(\d\d)-(\d\d)-(\d\d(?:\.\d+)?Z)-(\d+)-([A-Za-z0-9_-]+)\.eml$/;

export function parseMailFileName(name: string): MailFileEntry | null {
  const m = NAME.exec(name);
  if (!m) return null;
  return { id: Number(m[5]), kind: m[6]!, name, writtenAt: `${m[1]}${m[2]}:${m[3]}:${m[4]}` };
}

/** The folder's mail files, newest first; null when the folder does not exist. */
export async function listMailFiles(dir: string): Promise<MailFileEntry[] | null> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return names
    .map(parseMailFileName)
    .filter((e): e is MailFileEntry => e !== null)
    .sort((a, b) => (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
}

export interface DecodedMail {
  /** Header names lower-cased; values unfolded, encoded words decoded. */
  headers: Map<string, string>;
  /** The body as text, LF line ends. */
  text: string;
}

/** siar's mails are a few KB; anything far larger in the folder is not one. */
export const MAX_MAIL_FILE_BYTES = 1 << 20;

export async function readMailFile(file: string): Promise<DecodedMail> {
  const size = (await stat(file)).size;
  if (size > MAX_MAIL_FILE_BYTES) throw new Error(`${file} is ${size} bytes: not a mail siar wrote`);
  return decodeEml(await readFile(file, 'latin1'));
}

/**
 * Decodes a single-part text mail as siar writes it (7bit, 8bit, quoted-printable or base64 body;
 * RFC 2047 words in headers). `raw` holds the file's bytes one char each (latin1).
 */
export function decodeEml(raw: string): DecodedMail {
  const split = /\r?\n\r?\n/.exec(raw);
  const head = split ? raw.slice(0, split.index) : raw;
  const body = split ? raw.slice(split.index + split[0].length) : '';
  const headers = new Map<string, string>();
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    headers.set(line.slice(0, colon).trim().toLowerCase(), decodeWords(utf8(line.slice(colon + 1).trim())));
  }
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  let bytes: string;
  if (encoding === 'base64') bytes = Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('latin1');
  else if (encoding === 'quoted-printable') bytes = decodeQuotedPrintable(body);
  else bytes = body;
  return { headers, text: utf8(bytes).replace(/\r\n/g, '\n') };
}

/** latin1 chars (bytes) → UTF-8 text. */
function utf8(bytes: string): string {
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

function decodeQuotedPrintable(body: string): string {
  return body
    .replace(/[ \t]+(?=\r?\n)/g, '')
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

/** RFC 2047: `=?UTF-8?Q?Universitas_N=C3=A9geri?=`; whitespace between two encoded words is dropped. */
function decodeWords(value: string): string {
  return value
    .replace(/(\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_, charset: string, kind: string, text: string) => {
      const bytes = kind.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64')
        : Buffer.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))), 'latin1');
      try {
        return new TextDecoder(charset).decode(bytes);
      } catch {
        return bytes.toString('utf8');
      }
    });
}

/**
 * What travels about attachments, shared by the server and every client (docs/PROTOCOL-transfer.md).
 * No I/O here: value formats only.
 *
 *   SEND …|attach=SIZE,SHA256,NAME            one declaration per attachment (the name last: it may hold commas)
 *   data socket, client → server              TICKET\n, then (upload) exactly SIZE-OFFSET bytes
 *   data socket, server → client (upload)     TRANSFER|OK|key=value…  or  TRANSFER|ERR|CODE|sentence
 *   data socket, server → client (download)   the bytes from OFFSET to the end, then EOF
 */
import { hasTerminalControls } from '../protocol/index.js';

/** A ticket line longer than this is refused before more is read. */
export const TICKET_LINE_MAX_BYTES = 128;
/** Tickets are 32 random bytes in base64url: 43 characters. */
export const TICKET_PATTERN = /^[A-Za-z0-9_-]{43}$/;
export { SHA256_PATTERN } from '../core/ports/content.js';
/** sha256 of zero bytes: an empty attachment. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** Longest attachment name, in UTF-8 bytes (what file systems allow for one name). */
export const MAX_NAME_BYTES = 255;

export interface Declaration {
  name: string;
  size: number;
  sha256: string;
}

export function encodeDeclaration(d: Declaration): string {
  return `${d.size},${d.sha256},${d.name}`;
}

/** Null when the value is not `SIZE,SHA256,NAME` (the name is checked by checkAttachmentName). */
export function decodeDeclaration(value: string): Declaration | null {
  const m = /^(0|[1-9][0-9]{0,15}),([0-9a-f]{64}),(.*)$/s.exec(value);
  if (!m) return null;
  const size = Number(m[1]);
  if (!Number.isSafeInteger(size)) return null;
  return { size, sha256: m[2]!, name: m[3]! };
}

/**
 * Why a name cannot be an attachment name, or null when it can. Names are shown to people and
 * become file names on the recipients' disks, so no path separators, no control characters,
 * nothing that names a directory.
 */
export function checkAttachmentName(name: string): string | null {
  if (name.length === 0) return 'is empty';
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) return `is longer than ${MAX_NAME_BYTES} bytes in UTF-8`;
  if (/[/\\]/.test(name)) return 'contains a path separator';
  if (hasTerminalControls(name)) return 'contains a control or bidirectional-override character';
  if (name === '.' || name === '..') return 'names a directory';
  if (name.trim() !== name) return 'starts or ends with blanks';
  return null;
}

/** `host:port`, with IPv6 hosts in brackets. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export function parseHostPort(value: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { host: (m[1] ?? m[2])!, port };
}

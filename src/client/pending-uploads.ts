import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { configDir } from './config-store.js';
import { parseServerAddress } from './connection.js';
import type { LocalFile, SentMessage } from './transfer.js';

/**
 * Which local files belong to a message still being sent, so `siar resume ID` (and the TUI's
 * outbox) can continue its uploads without the paths being typed again. One file per message in
 * `~/.config/siar/uploads/` (directory 0700, files 0600): written once the server has stored the
 * message, removed when it is sent or cancelled. Paths only — never file contents or secrets.
 */
export interface PendingFile {
  attachmentId: number;
  /** Absolute. */
  path: string;
  name: string;
  size: number;
  sha256: string;
  /** The file's mtime when it was hashed: unchanged, it need not be hashed again. */
  mtimeMs: number;
}

export interface PendingUpload {
  server: string;
  username: string;
  messageId: number;
  /** After this the server has given up on the message: the entry is pruned. */
  uploadDeadline: string | null;
  files: PendingFile[];
}

/** At most this many messages are remembered; the oldest entries go first. */
const MAX_ENTRIES = 200;
/** An entry without a deadline is kept this long. */
const DEFAULT_KEEP_MS = 7 * 24 * 3600_000;

export class PendingUploads {
  constructor(readonly dir: string = path.join(configDir(), 'uploads')) {}

  remember(entry: PendingUpload): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    chmodSync(this.dir, 0o700);
    const file = this.fileOf(entry.server, entry.username, entry.messageId);
    const tmp = `${file}.${process.pid}.tmp`;
    const clean: PendingUpload = { ...entry, server: serverKey(entry.server), files: entry.files.map((f) => ({ ...f, path: path.resolve(f.path) })) };
    writeFileSync(tmp, JSON.stringify(clean, null, 2) + '\n', { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, file);
    this.prune();
  }

  /** The files remembered for this message, or null (none, unreadable, or malformed). */
  recall(server: string, username: string, messageId: number): PendingUpload | null {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(this.fileOf(server, username, messageId), 'utf8'));
    } catch {
      return null;
    }
    const entry = sanitize(raw);
    return entry && entry.messageId === messageId && entry.username === username && entry.server === serverKey(server) ? entry : null;
  }

  /** Ids of this member's remembered messages (on this server) whose files have these sha256s, as a set. */
  sameFiles(server: string, username: string, sha256s: readonly string[]): number[] {
    const wanted = [...new Set(sha256s)].sort().join(',');
    let names: string[];
    try {
      names = readdirSync(this.dir).filter((f) => f.endsWith('.json'));
    } catch {
      return [];
    }
    return names.flatMap((f) => {
      const id = Number(/-(\d+)\.json$/.exec(f)?.[1]);
      const entry = Number.isSafeInteger(id) ? this.recall(server, username, id) : null;
      return entry && [...new Set(entry.files.map((x) => x.sha256))].sort().join(',') === wanted ? [id] : [];
    }).sort((a, b) => a - b);
  }

  forget(server: string, username: string, messageId: number): void {
    rmSync(this.fileOf(server, username, messageId), { force: true });
  }

  private fileOf(server: string, username: string, messageId: number): string {
    // Message ids are per server: the server and member are part of the name (hashed: no odd characters).
    const who = createHash('sha256').update(`${serverKey(server)}\n${username}`).digest('hex').slice(0, 16);
    return path.join(this.dir, `${who}-${messageId}.json`);
  }

  /** Drops entries past their deadline, and the oldest beyond MAX_ENTRIES. */
  private prune(): void {
    const now = Date.now();
    const entries = readdirSync(this.dir).filter((f) => f.endsWith('.json')).map((f) => {
      const file = path.join(this.dir, f);
      let deadline = NaN;
      let mtime = now;
      try {
        mtime = statSync(file).mtimeMs;
        deadline = Date.parse(String((JSON.parse(readFileSync(file, 'utf8')) as { uploadDeadline?: unknown }).uploadDeadline));
      } catch { /* unreadable: judged by its age */ }
      return { file, mtime, expired: Number.isFinite(deadline) ? deadline < now : now - mtime > DEFAULT_KEEP_MS };
    }).sort((a, b) => b.mtime - a.mtime);
    entries.forEach((e, i) => {
      if (e.expired || i >= MAX_ENTRIES) rmSync(e.file, { force: true });
    });
  }
}

/** The remembered form of a just-stored message's files: each local file beside its attachment id. */
export function pendingFiles(sent: Pick<SentMessage, 'attachments'>, files: readonly LocalFile[]): PendingFile[] {
  return files.flatMap((f) => {
    const a = sent.attachments.find((x) => x.name === f.name && x.sha256 === f.sha256 && x.size === f.size);
    return a ? [{ attachmentId: a.id, path: f.path, name: f.name, size: f.size, sha256: f.sha256, mtimeMs: f.mtimeMs ?? 0 }] : [];
  });
}

/** `host:port` as the client connects to it, so `--server localhost` and `localhost:7400` agree. */
export function serverKey(server: string | undefined): string {
  try {
    const { host, port } = parseServerAddress(server);
    return `${host}:${port}`;
  } catch {
    return server ?? '';
  }
}

/** Only the known fields with the right types: a hand-edited file cannot smuggle anything in. */
function sanitize(raw: unknown): PendingUpload | null {
  if (!raw || typeof raw !== 'object') return null;
  const r = raw as Record<string, unknown>;
  if (typeof r.server !== 'string' || typeof r.username !== 'string' || !Number.isSafeInteger(r.messageId) || !Array.isArray(r.files)) return null;
  const files: PendingFile[] = [];
  for (const f of r.files as unknown[]) {
    const x = (f ?? {}) as Record<string, unknown>;
    if (Number.isSafeInteger(x.attachmentId) && typeof x.path === 'string' && path.isAbsolute(x.path) && typeof x.name === 'string'
      && Number.isSafeInteger(x.size) && typeof x.sha256 === 'string' && typeof x.mtimeMs === 'number') {
      files.push({ attachmentId: x.attachmentId as number, path: x.path, name: x.name, size: x.size as number, sha256: x.sha256, mtimeMs: x.mtimeMs });
    }
  }
  return {
    server: r.server, username: r.username, messageId: r.messageId as number,
    uploadDeadline: typeof r.uploadDeadline === 'string' ? r.uploadDeadline : null, files,
  };
}

/**
 * Backups and restores of a siar data directory.
 *
 * A backup is taken online with SQLite's backup API (through the store) while the server keeps
 * serving: pages are copied in small steps, and writes made meanwhile are carried into the copy,
 * so the file is a consistent database as of the moment the copy finished. It lands in
 * `<data>/backups/` as three siblings:
 *
 *   siar-<time>.db             the database
 *   siar-<time>.json           the manifest: counts, integrity, attachments (listed or copied)
 *   siar-<time>-attachments/   copies of the attachment files (when asked for)
 *
 * `restoreBackup` puts such a file into the data directory of a stopped server.
 * The mail key (<data>/mail.key) is never part of a backup: it is what keeps the credentials in
 * queued mail secret when a copy of the database travels.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, readdir, rename, rm, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AttachmentMeta, DatabaseFiles, DatabaseReport, Store } from '../core/ports/store.js';

export const DATABASE_FILE = 'siar.db';
export const BACKUP_DIR = 'backups';
export const LOCK_FILE = 'server.lock';

export type AttachmentMode = 'copy' | 'list';

export interface BackupAttachment {
  id: number;
  /** Relative to the data directory (and to the copy folder). */
  path: string;
  size: number;
  sha256: string;
  /** False when the file was missing from the data directory at backup time. */
  present: boolean;
}

export interface BackupManifest {
  name: string;
  /** The database file, beside the manifest. */
  file: string;
  createdAt: string;
  finishedAt: string;
  by: string;
  bytes: number;
  pages: number;
  report: DatabaseReport;
  attachments: {
    mode: AttachmentMode;
    /** The folder beside the manifest holding the copies (mode copy). */
    dir: string | null;
    count: number;
    bytes: number;
    missing: number;
    files: BackupAttachment[];
  };
  mailKey: 'not included';
}

export interface BackupListEntry {
  name: string;
  file: string;
  createdAt: string;
  bytes: number;
  messages: number | null;
  members: number | null;
  attachments: number | null;
  attachmentMode: AttachmentMode | null;
  integrity: string | null;
}

export interface BackupJob {
  name: string;
  by: string;
  startedAt: string;
  status: 'running' | 'done' | 'failed';
  phase: 'database' | 'attachments' | 'finished';
  totalPages: number;
  remainingPages: number;
  error: string | null;
  manifest: BackupManifest | null;
  /** Settles when the job ends; rejects with the failure. */
  done: Promise<BackupManifest>;
}

export class BackupBusyError extends Error {
  constructor(readonly running: BackupJob) {
    super(`The backup ${running.name} is still running.`);
    this.name = 'BackupBusyError';
  }
}

export interface BackupServiceOptions {
  store: Store;
  dataDir: string;
  log: Logger;
  /** Checks a finished copy (the file store's integrity check, src/adapters/index.ts). */
  inspect: (file: string) => DatabaseReport;
  /** Least time between two progress reports of one job. */
  progressEveryMs?: number;
}

/** Takes backups one at a time and lists the past ones. */
export class BackupService {
  private current: BackupJob | null = null;
  private readonly inspect: (file: string) => DatabaseReport;
  private readonly progressEveryMs: number;

  constructor(private readonly options: BackupServiceOptions) {
    this.inspect = options.inspect;
    this.progressEveryMs = options.progressEveryMs ?? 100;
  }

  get dir(): string {
    return path.join(this.options.dataDir, BACKUP_DIR);
  }

  get running(): BackupJob | null {
    return this.current;
  }

  /**
   * Starts a backup and returns at once; `onProgress` hears about the job as it goes (throttled)
   * and once more when it ends. Throws BackupBusyError while another backup runs.
   */
  start(args: { attachments: AttachmentMode; by: string }, onProgress: (job: BackupJob) => void = () => undefined): BackupJob {
    if (this.current) throw new BackupBusyError(this.current);
    const startedAt = new Date();
    let settle!: { resolve: (m: BackupManifest) => void; reject: (e: unknown) => void };
    const done = new Promise<BackupManifest>((resolve, reject) => { settle = { resolve, reject }; });
    done.catch(() => undefined); // the caller may not wait; failures are reported through the job
    const job: BackupJob = {
      name: backupName(startedAt), by: args.by, startedAt: startedAt.toISOString(), status: 'running', phase: 'database',
      totalPages: 0, remainingPages: 0, error: null, manifest: null, done,
    };
    this.current = job;
    const report = (): void => {
      try { onProgress(job); } catch (err) { this.options.log.warn({ err }, 'backup progress listener failed'); }
    };
    this.run(job, args.attachments, report).then(
      (manifest) => {
        job.status = 'done';
        job.phase = 'finished';
        job.manifest = manifest;
        this.current = null;
        this.options.log.info({ backup: job.name, bytes: manifest.bytes, attachments: manifest.attachments.count }, 'backup done');
        report();
        settle.resolve(manifest);
      },
      (err: unknown) => {
        job.status = 'failed';
        job.phase = 'finished';
        job.error = err instanceof Error ? err.message : String(err);
        this.current = null;
        this.options.log.error({ backup: job.name, err: job.error }, 'backup failed');
        report();
        settle.reject(err);
      },
    );
    return job;
  }

  private async run(job: BackupJob, mode: AttachmentMode, report: () => void): Promise<BackupManifest> {
    const dir = this.dir;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    job.name = await freeName(dir, job.name);
    const file = path.join(dir, `${job.name}.db`);
    const partial = `${file}.${randomBytes(4).toString('hex')}.partial`;
    let last = 0;
    try {
      const { store } = this.options;
      if (!store.backup) throw new Error(store.backupAdvice ?? 'this store cannot copy itself to a file');
      await store.backup(partial, (p) => {
        job.totalPages = p.totalPages;
        job.remainingPages = p.remainingPages;
        const now = Date.now();
        if (now - last >= this.progressEveryMs) {
          last = now;
          report();
        }
      });
      const dbReport = this.inspect(partial);
      if (dbReport.integrity !== 'ok') throw new Error(`the copy failed its integrity check: ${dbReport.integrity}`);
      await chmod(partial, 0o600); // password hashes and messages: for the administrator only
      await rename(partial, file);
      job.phase = 'attachments';
      report();
      const stored = await this.options.store.listStoredAttachments();
      const attachments = await this.attachments(job.name, stored, mode);
      const manifest: BackupManifest = {
        name: job.name,
        file: `${job.name}.db`,
        createdAt: job.startedAt,
        finishedAt: new Date().toISOString(),
        by: job.by,
        bytes: (await stat(file)).size,
        pages: job.totalPages,
        report: dbReport,
        attachments,
        mailKey: 'not included',
      };
      await writeFile(path.join(dir, `${job.name}.json`), JSON.stringify(manifest, null, 2) + '\n', { mode: 0o600 });
      return manifest;
    } finally {
      await unlink(partial).catch(() => undefined);
    }
  }

  private async attachments(name: string, stored: AttachmentMeta[], mode: AttachmentMode): Promise<BackupManifest['attachments']> {
    const dataDir = path.resolve(this.options.dataDir);
    const copyDir = path.join(this.dir, `${name}-attachments`);
    const files: BackupAttachment[] = [];
    let bytes = 0;
    for (const a of stored) {
      const relative = a.storagePath ?? '';
      const source = insideDir(dataDir, relative);
      let present = false;
      if (source) {
        try {
          const s = await stat(source);
          present = s.isFile();
          if (present && mode === 'copy') {
            const target = path.join(copyDir, path.relative(dataDir, source));
            await mkdir(path.dirname(target), { recursive: true, mode: 0o700 });
            await copyFile(source, target, fsConstants.COPYFILE_EXCL);
          }
          if (present) bytes += s.size;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
      files.push({ id: a.id, path: relative, size: a.size, sha256: a.sha256, present });
    }
    const copied = mode === 'copy' && files.some((f) => f.present);
    return {
      mode, dir: copied ? `${name}-attachments` : null, count: files.length, bytes,
      missing: files.filter((f) => !f.present).length, files,
    };
  }

  /** Past backups, newest first. A database file without a manifest is listed from its size. */
  async list(): Promise<BackupListEntry[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    const out: BackupListEntry[] = [];
    for (const f of names.filter((n) => n.endsWith('.db'))) {
      const base = f.slice(0, -3);
      const full = path.join(this.dir, f);
      const manifest = await readManifest(path.join(this.dir, `${base}.json`));
      const s = await stat(full).catch(() => null);
      if (!s) continue;
      out.push({
        name: base, file: full, createdAt: manifest?.createdAt ?? s.mtime.toISOString(), bytes: s.size,
        messages: manifest?.report.messages ?? null, members: manifest?.report.members ?? null,
        attachments: manifest?.attachments.count ?? null, attachmentMode: manifest?.attachments.mode ?? null,
        integrity: manifest?.report.integrity ?? null,
      });
    }
    return out.sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.name.localeCompare(a.name));
  }
}

/** `siar-2025-11-26T01-20-00-123Z`: sorts by time and is a valid file name everywhere. */
export function backupName(at: Date): string {
  return `siar-${at.toISOString().replace(/[:.]/g, '-')}`;
}

async function freeName(dir: string, name: string): Promise<string> {
  for (let i = 1; ; i++) {
    const candidate = i === 1 ? name : `${name}-${i}`;
    const taken = await stat(path.join(dir, `${candidate}.db`)).then(() => true, () => false);
    if (!taken) return candidate;
  }
}

async function readManifest(file: string): Promise<BackupManifest | null> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as BackupManifest;
  } catch {
    return null;
  }
}

/** The absolute path of `relative` if it stays inside `dir`; null for anything that escapes. */
function insideDir(dir: string, relative: string): string | null {
  if (!relative || path.isAbsolute(relative)) return null;
  const full = path.resolve(dir, relative);
  return full.startsWith(dir + path.sep) ? full : null;
}

// --- the server lock: which process serves a data directory (so restore can refuse) ---

export interface ServerLock {
  pid: number;
  host: string;
  port: number;
  startedAt: string;
}

/** Written by a server once it listens; removed when it stops. */
export async function writeServerLock(dataDir: string, lock: ServerLock): Promise<void> {
  await writeFile(path.join(dataDir, LOCK_FILE), JSON.stringify(lock) + '\n', { mode: 0o600 });
}

export async function removeServerLock(dataDir: string, pid = process.pid): Promise<void> {
  const current = await readServerLock(dataDir);
  if (current && current.pid === pid) await rm(path.join(dataDir, LOCK_FILE), { force: true });
}

export async function readServerLock(dataDir: string): Promise<ServerLock | null> {
  try {
    const lock = JSON.parse(await readFile(path.join(dataDir, LOCK_FILE), 'utf8')) as ServerLock;
    return typeof lock.pid === 'number' ? lock : null;
  } catch {
    return null;
  }
}

/** The lock of a server process that is still alive; a lock left by a crash does not count. */
export async function liveServerLock(dataDir: string): Promise<ServerLock | null> {
  const lock = await readServerLock(dataDir);
  return lock && isProcessAlive(lock.pid) ? lock : null;
}

/** Whether a process with this id exists (one we may not signal counts). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

// --- restore ---

export class RestoreRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RestoreRefused';
  }
}

export interface RestoreResult {
  dataDir: string;
  database: string;
  report: DatabaseReport;
  /** Where the database that was there before went (with --force). */
  previous: string | null;
  attachmentsCopied: number;
  /** Attachment files the manifest lists that are not in the data directory after the restore. */
  attachmentsMissing: string[];
  notes: string[];
}

/**
 * Restores a backup database (and its copied attachments, if any) into the data directory of a
 * stopped server. Refuses while a server runs there, and refuses to replace an existing database
 * unless `force` (the old one is kept beside it, renamed, never deleted).
 */
export async function restoreBackup(file: string, dataDirIn: string, options: { force?: boolean; files: DatabaseFiles }): Promise<RestoreResult> {
  const { files } = options;
  const dataDir = path.resolve(dataDirIn);
  const source = path.resolve(file);
  const sourceStat = await stat(source).catch(() => null);
  if (!sourceStat?.isFile()) throw new RestoreRefused(`${file} is not a file.`);

  const lock = await liveServerLock(dataDir);
  if (lock) {
    throw new RestoreRefused(
      `a siar server (pid ${lock.pid}, ${lock.host}:${lock.port}) is running on ${dataDir}; stop it before restoring.`,
    );
  }

  let report: DatabaseReport;
  try {
    report = files.inspect(source);
  } catch (err) {
    throw new RestoreRefused(`${file} is not a siar database: ${(err as Error).message}`);
  }
  if (report.integrity !== 'ok') throw new RestoreRefused(`${file} failed its integrity check: ${report.integrity}`);
  if (report.schemaVersion < 1 || report.users < 1) throw new RestoreRefused(`${file} is not a siar database (no schema or no users).`);
  if (report.schemaVersion > files.schemaVersion) {
    throw new RestoreRefused(`${file} has schema version ${report.schemaVersion}; this siar knows up to ${files.schemaVersion}. Upgrade siar first.`);
  }

  const target = path.join(dataDir, DATABASE_FILE);
  const existing = await stat(target).catch(() => null);
  if (existing && !options.force) {
    throw new RestoreRefused(`${dataDir} already holds a database; give --force to replace it (the old one is kept beside it).`);
  }

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const temp = `${target}.restore-${randomBytes(4).toString('hex')}.tmp`;
  await copyFile(source, temp, fsConstants.COPYFILE_EXCL);
  let previous: string | null = null;
  try {
    const copied = files.inspect(temp);
    if (copied.integrity !== 'ok') throw new RestoreRefused(`the copy failed its integrity check: ${copied.integrity}`);
    if (existing) {
      previous = `${target}.before-restore-${stamp}`;
      await rename(target, previous);
    }
    // A write-ahead log left by the old database must never be applied to the restored one.
    for (const suffix of ['-wal', '-shm']) {
      const side = `${target}${suffix}`;
      if (previous) await rename(side, `${previous}${suffix}`).catch(() => undefined);
      await rm(side, { force: true });
    }
    await chmod(temp, 0o600);
    await rename(temp, target);
  } finally {
    await rm(temp, { force: true });
  }

  // Attachments: copies beside the backup go back into the data directory.
  const notes: string[] = [];
  const base = source.endsWith('.db') ? source.slice(0, -3) : source;
  const manifest = await readManifest(`${base}.json`);
  let attachmentsCopied = 0;
  const attachmentsMissing: string[] = [];
  if (manifest) {
    const copyDir = manifest.attachments.dir ? path.join(path.dirname(source), manifest.attachments.dir) : null;
    for (const a of manifest.attachments.files) {
      const dest = insideDir(dataDir, a.path);
      if (!dest) continue;
      const there = await stat(dest).then((s) => s.isFile(), () => false);
      if (there) continue;
      const from = copyDir ? insideDir(path.resolve(copyDir), a.path) : null;
      if (from && (await stat(from).then((s) => s.isFile(), () => false))) {
        await mkdir(path.dirname(dest), { recursive: true, mode: 0o700 });
        await copyFile(from, dest);
        attachmentsCopied++;
      } else {
        attachmentsMissing.push(a.path);
      }
    }
    if (attachmentsMissing.length > 0) {
      notes.push(`${attachmentsMissing.length} attachment file(s) listed in the backup are not in ${dataDir}; copy them there by hand.`);
    }
  } else if (report.attachments > 0) {
    notes.push(`no manifest beside ${file}: copy the ${report.attachments} attachment file(s) into ${dataDir} by hand.`);
  }
  if (!(await stat(path.join(dataDir, 'admin-password')).then(() => true, () => false))) {
    notes.push('the admin account and its password are those of the server that made the backup.');
  }
  if (report.unsentMail > 0) {
    const key = await stat(path.join(dataDir, 'mail.key')).then(() => true, () => false);
    if (!key) {
      notes.push(
        `${report.unsentMail} unsent mail(s) are sealed with the mail key of the server that made the backup; ` +
          `copy that key to ${path.join(dataDir, 'mail.key')} (or start the server with --mail-key-file naming it) before starting the server, or they cannot be sent.`,
      );
    }
  }
  return { dataDir, database: target, report, previous, attachmentsCopied, attachmentsMissing, notes };
}

/**
 * `siar migrate` (issue 19 item 2): a single-node installation (a data directory: siar.db and the
 * attachment files beside it) moved into a PostgreSQL store, then verified.
 *
 * - Every table of schema.sql is copied row for row (MIGRATED_TABLES, in foreign-key order; a
 *   table the source has and the list lacks stops the migration before anything is written, and
 *   test/adapters/migrate/tables.test.ts fails when schema.sql gains one). Columns are matched by
 *   name; values are converted by the PostgreSQL column's type (0/1 → boolean, ISO text →
 *   timestamptz, a JSON id list → BIGINT[]). Ids are kept, so message ids stay what members saw,
 *   and every identity sequence is moved past the largest id copied.
 * - Attachment content goes through the content port: each file of <data>/attachments is streamed
 *   into PgContent (its sha256 checked on the way, as an upload's), and attachments.storage_path
 *   becomes the PostgreSQL content key. Interrupted uploads (tmp/*.part) are not copied: their
 *   messages stay 'sending' and the sender's client uploads them again from byte 0.
 * - Verification reads both sides again, table by table in primary-key order, and hashes every
 *   row in one canonical form (the PostgreSQL value the source row becomes), so counts and
 *   SHA-256 of both sides must agree; every content is read back from PostgreSQL and hashed.
 *
 * Memory is bounded: the source is iterated a row at a time and sent in batches of BATCH_ROWS; the
 * target is read through a server-side cursor; content streams through in chunks.
 * The rows are written in one PostgreSQL transaction: a failure leaves the tables as they were.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import Sqlite from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import type { Pool, PoolClient } from 'pg';
import { ContentMismatch, type AttachmentContent, type UploadHandle } from '../../core/ports/content.js';
import { FsContent } from '../fs-content/fs-content.js';
import { createPool } from '../postgres/connection.js';
import { PgContent, pgContentKey } from '../postgres/content.js';
import { applyPgMigrations } from '../postgres/migrate.js';
import { SCHEMA_VERSION } from '../sqlite/migrate.js';

/**
 * Every table of schema.sql, parents before children (the PostgreSQL foreign keys are checked per
 * row). A new table in schema.sql goes here too, with its PostgreSQL twin in schema.postgres.sql.
 */
export const MIGRATED_TABLES = [
  'users',
  'registration_requests',
  'sessions',
  'channels',
  'institution_groups',
  'messages',
  'message_recipients',
  'message_routes',
  'message_audiences',
  'attachments',
  'mail_queue',
  'audit_events',
  'channel_roles',
  'channel_subscriptions',
  'group_members',
  'storage_usage',
  'message_alerts',
  'message_acks',
  'message_reminders_due',
] as const;

/** Tables of the PostgreSQL schema that have no SQLite twin: the content (written by the copy). */
const TARGET_ONLY_TABLES = ['content_blobs', 'content_chunks'] as const;

const BATCH_ROWS = 500;
/** Content problems described one by one (the rest are counted). */
const MAX_PROBLEMS = 100;
/** PostgreSQL takes at most 65,535 parameters in one statement. */
const MAX_PARAMETERS = 60_000;

export class MigrationRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationRefused';
  }
}

export interface TableCheck {
  table: string;
  sourceRows: number;
  targetRows: number;
  sourceSha256: string;
  targetSha256: string;
  ok: boolean;
}

export interface ContentCheck {
  /** Distinct contents (sha256) the source's stored attachments refer to. */
  contents: number;
  bytes: number;
  /** Contents read back from the target whose SHA-256 is the declared one. */
  verified: number;
  /** Contents whose file or PostgreSQL copy did not hash to their sha256. */
  failed: number;
  /** The first MAX_PROBLEMS of them, as sentences. */
  problems: string[];
}

export interface MigrationReport {
  from: string;
  to: string;
  /** False for --verify (nothing copied). */
  copied: boolean;
  tables: TableCheck[];
  content: ContentCheck;
  /** Identity sequences moved past the largest id: table → next id. */
  sequences: Record<string, number>;
  ok: boolean;
  notes: string[];
}

export type MigrationProgress =
  | { phase: 'copy' | 'verify'; table: string; done: number; total: number }
  | { phase: 'content' | 'verify-content'; table: 'attachments'; done: number; total: number };

export interface MigrationOptions {
  /** The data directory holding siar.db and attachments/. */
  dataDir: string;
  /** postgres://… (its password may come from PGPASSWORD instead). */
  url: string;
  /** Empty the target's siar tables first (everything in them goes). */
  replace?: boolean;
  /** Copy nothing: compare source and target only. */
  verifyOnly?: boolean;
  onProgress?: (p: MigrationProgress) => void;
  /** Tests only: runs between the copy and the verification (to tamper with the target). */
  beforeVerify?: () => Promise<void>;
}

/** Column types of the target as information_schema names them, per table. */
type PgType = 'bigint' | 'integer' | 'text' | 'boolean' | 'timestamptz' | 'bigint[]';
interface Column { name: string; type: PgType }
interface TablePlan { table: string; columns: Column[]; pk: string[] }

export function databaseFile(dataDir: string): string {
  return path.join(dataDir, 'siar.db');
}

/** Moves (or with verifyOnly, only compares) the installation in `dataDir` into the database at `url`. */
export async function migrateToPostgres(opts: MigrationOptions): Promise<MigrationReport> {
  const file = databaseFile(opts.dataDir);
  if (!existsSync(file)) throw new MigrationRefused(`${opts.dataDir} holds no siar database (no ${path.basename(file)} in it).`);
  let source: Database;
  try {
    source = new Sqlite(file, { readonly: true, fileMustExist: true });
  } catch (err) {
    throw new MigrationRefused(`${file} cannot be opened: ${(err as Error).message}.`);
  }
  const pool = createPool(opts.url, { maxConnections: 3, connectTimeoutMs: 10_000, lockTimeoutMs: 30_000 });
  let content: PgContent | null = null;
  try {
    checkSource(source, file);
    try {
      await applyPgMigrations(pool);
    } catch (err) {
      throw new MigrationRefused(`the PostgreSQL database cannot be reached or prepared: ${describePgError(err)}.`);
    }
    const plans = await plan(source, pool);
    const notes: string[] = [];
    let sequences: Record<string, number> = {};
    const files = new FsContent(opts.dataDir);
    content = await PgContent.open(opts.url);
    if (!opts.verifyOnly) {
      await checkTargetEmpty(pool, !!opts.replace);
      // One read transaction: every table from the same snapshot.
      source.exec('BEGIN');
      try {
        await copyContent(source, files, content, opts.onProgress);
        sequences = await copyTables(source, pool, plans, opts.onProgress);
      } finally {
        source.exec('COMMIT');
      }
      const partial = (source.prepare(`SELECT count(*) FROM messages WHERE state = 'sending'`).pluck().get() as number);
      if (partial > 0) {
        notes.push(`${partial} message(s) were still being uploaded: their senders' clients upload the attachments again from the start.`);
      }
      await opts.beforeVerify?.();
    }
    const tables: TableCheck[] = [];
    for (const p of plans) tables.push(await compareTable(source, pool, p, opts.onProgress));
    const contentCheck = await verifyContent(source, files, content, opts.onProgress);
    if (existsSync(path.join(opts.dataDir, 'mail.key'))) {
      notes.push(`queued mail is sealed with ${path.join(opts.dataDir, 'mail.key')}: give every node that will serve this store a copy of that file, mode 0600, with --mail-key-file.`);
    }
    const ok = tables.every((t) => t.ok) && contentCheck.failed === 0;
    return { from: file, to: redactUrl(opts.url), copied: !opts.verifyOnly, tables, content: contentCheck, sequences, ok, notes };
  } finally {
    source.close();
    await content?.close().catch(() => {});
    await pool.end().catch(() => {});
  }
}

function checkSource(source: Database, file: string): void {
  const version = source.pragma('user_version', { simple: true }) as number;
  if (version === 0) throw new MigrationRefused(`${file} is not a siar database (it has no schema).`);
  if (version > SCHEMA_VERSION) {
    throw new MigrationRefused(`${file} has schema version ${version}; this siar knows up to ${SCHEMA_VERSION}. Upgrade siar first.`);
  }
  if (version < SCHEMA_VERSION) {
    throw new MigrationRefused(
      `${file} has schema version ${version}, older than this siar's ${SCHEMA_VERSION}: start \`siar server\` of this version on it once (it upgrades the database), stop it, then migrate.`,
    );
  }
}

/** The tables both sides have, their columns with the target's types, and their primary keys. */
async function plan(source: Database, pool: Pool): Promise<TablePlan[]> {
  const sourceTables = (source.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`)
    .pluck().all() as string[]);
  const unknown = sourceTables.filter((t) => !(MIGRATED_TABLES as readonly string[]).includes(t));
  if (unknown.length > 0) {
    throw new MigrationRefused(`the source has table(s) this siar does not know how to migrate: ${unknown.join(', ')}. Nothing was copied.`);
  }
  const { rows } = await pool.query<{ table_name: string; column_name: string; data_type: string; udt_name: string }>(
    `SELECT table_name, column_name, data_type, udt_name FROM information_schema.columns
     WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`);
  const plans: TablePlan[] = [];
  for (const table of MIGRATED_TABLES) {
    const target = rows.filter((r) => r.table_name === table);
    if (target.length === 0) throw new MigrationRefused(`the PostgreSQL schema has no table ${table}.`);
    const info = source.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string; pk: number }>;
    if (info.length === 0) throw new MigrationRefused(`the source has no table ${table}.`);
    const sourceNames = info.map((c) => c.name).sort();
    const targetNames = target.map((c) => c.column_name).sort();
    if (sourceNames.join() !== targetNames.join()) {
      throw new MigrationRefused(`table ${table} has columns ${sourceNames.join(', ')} in SQLite but ${targetNames.join(', ')} in PostgreSQL.`);
    }
    const columns = target.map((c) => ({ name: c.column_name, type: pgType(table, c.column_name, c.data_type, c.udt_name) }));
    const pk = info.filter((c) => c.pk > 0).sort((a, b) => a.pk - b.pk).map((c) => c.name);
    if (pk.length === 0) throw new MigrationRefused(`table ${table} has no primary key to copy it in order by.`);
    plans.push({ table, columns, pk });
  }
  return plans;
}

function pgType(table: string, column: string, dataType: string, udt: string): PgType {
  switch (dataType) {
    case 'bigint': return 'bigint';
    case 'integer': return 'integer';
    case 'text': return 'text';
    case 'boolean': return 'boolean';
    case 'timestamp with time zone': return 'timestamptz';
    case 'ARRAY': if (udt === '_int8') return 'bigint[]'; break;
  }
  throw new MigrationRefused(`${table}.${column} has the PostgreSQL type ${dataType}, which siar migrate does not convert.`);
}

async function checkTargetEmpty(pool: Pool, replace: boolean): Promise<void> {
  const tables = [...MIGRATED_TABLES, ...TARGET_ONLY_TABLES];
  if (replace) {
    // CASCADE: a table of the target that refers to these (a newer siar's) is emptied with them.
    await pool.query(`TRUNCATE ${tables.join(', ')} CASCADE`);
    return;
  }
  const counts = await pool.query<{ table: string; n: number }>(
    tables.map((t) => `SELECT '${t}' AS table, (SELECT count(*) FROM (SELECT 1 FROM ${t} LIMIT 1) x)::bigint AS n`).join(' UNION ALL '));
  const used = counts.rows.filter((r) => r.n > 0).map((r) => r.table);
  if (used.length > 0) {
    throw new MigrationRefused(
      `the PostgreSQL database already holds siar data (${used.join(', ')} not empty); migrate into an empty database, ` +
        'or give --replace to empty those tables first (everything in them is lost).',
    );
  }
}

/** A source value as the target column takes it. */
function toPg(type: PgType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'boolean': return value !== 0 && value !== '0' && value !== false;
    case 'bigint[]': return typeof value === 'string' ? (JSON.parse(value) as unknown[]).map(Number) : value;
    case 'bigint': case 'integer': return typeof value === 'bigint' ? Number(value) : value;
    default: return value;
  }
}

/** One canonical form of a target value, so both sides hash alike. */
function canonical(type: PgType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  switch (type) {
    case 'timestamptz': {
      const at = new Date(value as string);
      return Number.isNaN(at.getTime()) ? `invalid:${String(value)}` : at.toISOString();
    }
    case 'bigint': case 'integer': return Number(value);
    case 'boolean': return Boolean(value);
    case 'bigint[]': return (value as unknown[]).map(Number);
    default: return String(value);
  }
}

/** A source row as the target row it becomes, in the plan's column order. */
function sourceRow(p: TablePlan, row: Record<string, unknown>): unknown[] {
  return p.columns.map((c) => {
    // Attachment files become content in PostgreSQL: the key names it there.
    if (p.table === 'attachments' && c.name === 'storage_path') return row.storage_path == null ? null : pgContentKey(row.sha256 as string);
    return toPg(c.type, row[c.name]);
  });
}

const quote = (name: string): string => `"${name}"`;

async function copyTables(source: Database, pool: Pool, plans: TablePlan[], onProgress?: (p: MigrationProgress) => void): Promise<Record<string, number>> {
  const client = await pool.connect();
  const sequences: Record<string, number> = {};
  try {
    await client.query('BEGIN');
    for (const p of plans) {
      const total = source.prepare(`SELECT count(*) FROM ${p.table}`).pluck().get() as number;
      const perBatch = Math.max(1, Math.min(BATCH_ROWS, Math.floor(MAX_PARAMETERS / p.columns.length)));
      let batch: unknown[][] = [];
      let done = 0;
      onProgress?.({ phase: 'copy', table: p.table, done, total });
      const select = source.prepare(`SELECT * FROM ${p.table} ORDER BY ${p.pk.join(', ')}`);
      for (const row of select.iterate() as IterableIterator<Record<string, unknown>>) {
        batch.push(sourceRow(p, row));
        if (batch.length >= perBatch) {
          await insertBatch(client, p, batch);
          done += batch.length;
          batch = [];
          onProgress?.({ phase: 'copy', table: p.table, done, total });
        }
      }
      if (batch.length > 0) {
        await insertBatch(client, p, batch);
        done += batch.length;
        onProgress?.({ phase: 'copy', table: p.table, done, total });
      }
      if (p.pk.length === 1 && p.pk[0] === 'id') {
        const { rows } = await client.query<{ next: number }>(
          `SELECT setval(pg_get_serial_sequence('${p.table}', 'id'), coalesce(max(id), 0) + 1, false) AS next FROM ${p.table}`);
        sequences[p.table] = rows[0]!.next;
      }
    }
    const committed = await client.query('COMMIT');
    if (committed.command === 'ROLLBACK') throw new Error('the copy was rolled back at COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  return sequences;
}

async function insertBatch(client: PoolClient, p: TablePlan, batch: unknown[][]): Promise<void> {
  const n = p.columns.length;
  const values = batch.map((_, r) => `(${p.columns.map((_c, i) => `$${r * n + i + 1}`).join(', ')})`).join(', ');
  const text = `INSERT INTO ${p.table} (${p.columns.map((c) => quote(c.name)).join(', ')}) OVERRIDING SYSTEM VALUE VALUES ${values}`;
  try {
    await client.query(text, batch.flat());
  } catch (err) {
    throw new Error(`copying ${p.table} failed: ${describePgError(err)}`);
  }
}

/** Streams every distinct stored content of the source into PgContent (its sha256 checked on the way). */
async function copyContent(source: Database, files: AttachmentContent, target: AttachmentContent, onProgress?: (p: MigrationProgress) => void): Promise<void> {
  const contents = storedContents(source);
  let done = 0;
  onProgress?.({ phase: 'content', table: 'attachments', done, total: contents.total });
  for (const c of contents.rows) {
    const upload = await target.beginUpload(c.id, { restart: true, maxSize: c.size });
    try {
      await streamInto(files.openRead(c.storagePath, 0), upload);
      await target.commit(upload, c.sha256, async (key) => key, async () => true);
    } catch (err) {
      // A file missing or not what its rows say is the source's damage: the rest is copied, and
      // the verification names it (the target then lacks that content, as the source does).
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' && !(err instanceof ContentMismatch)) throw err;
      await target.removePartial(c.id);
    }
    done++;
    onProgress?.({ phase: 'content', table: 'attachments', done, total: contents.total });
  }
}

/** Streams `reader` into the upload's sink (with backpressure), feeding its hash; resolves once durable. */
function streamInto(reader: NodeJS.ReadableStream & { destroy(): void }, upload: UploadHandle): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let failed = false;
    const sink = upload.open({ onDrain: () => reader.resume(), onError: (err) => fail(err) });
    const fail = (err: Error): void => {
      if (failed) return;
      failed = true;
      reader.destroy();
      void sink.abandon().then(() => reject(err));
    };
    reader.on('data', (chunk: Buffer) => {
      upload.hash.update(chunk);
      if (!sink.write(chunk)) reader.pause();
    });
    reader.on('error', fail);
    reader.on('end', () => { sink.finish({ sync: true }).then(resolve, fail); });
  });
}

interface StoredContent { id: number; sha256: string; size: number; storagePath: string }

/** The distinct contents the source's committed attachments refer to, a row at a time, and how many. */
function storedContents(source: Database): { total: number; rows: IterableIterator<StoredContent> } {
  const total = source.prepare(`SELECT count(DISTINCT sha256) FROM attachments WHERE storage_path IS NOT NULL`).pluck().get() as number;
  const rows = source.prepare(`
    SELECT min(id) AS id, sha256, max(size) AS size, min(storage_path) AS storagePath FROM attachments
    WHERE storage_path IS NOT NULL GROUP BY sha256 ORDER BY sha256`).iterate() as IterableIterator<StoredContent>;
  return { total, rows };
}

/** Counts and hashes one table on both sides, in primary-key order. */
async function compareTable(source: Database, pool: Pool, p: TablePlan, onProgress?: (p: MigrationProgress) => void): Promise<TableCheck> {
  const total = source.prepare(`SELECT count(*) FROM ${p.table}`).pluck().get() as number;
  const sourceHash = createHash('sha256');
  let sourceRows = 0;
  for (const row of source.prepare(`SELECT * FROM ${p.table} ORDER BY ${p.pk.join(', ')}`).iterate() as IterableIterator<Record<string, unknown>>) {
    const values = sourceRow(p, row);
    sourceHash.update(JSON.stringify(p.columns.map((c, i) => canonical(c.type, values[i]))) + '\n');
    sourceRows++;
  }
  const targetHash = createHash('sha256');
  let targetRows = 0;
  const textPk = new Set(p.columns.filter((c) => c.type === 'text').map((c) => c.name));
  const order = p.pk.map((k) => (textPk.has(k) ? `${quote(k)} COLLATE "C"` : quote(k))).join(', ');
  const client = await pool.connect();
  try {
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    await client.query(`DECLARE siar_verify NO SCROLL CURSOR FOR SELECT ${p.columns.map((c) => quote(c.name)).join(', ')} FROM ${p.table} ORDER BY ${order}`);
    for (;;) {
      const { rows } = await client.query<Record<string, unknown>>(`FETCH ${BATCH_ROWS} FROM siar_verify`);
      for (const row of rows) targetHash.update(JSON.stringify(p.columns.map((c) => canonical(c.type, row[c.name]))) + '\n');
      targetRows += rows.length;
      onProgress?.({ phase: 'verify', table: p.table, done: targetRows, total });
      if (rows.length < BATCH_ROWS) break;
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
  const check = { table: p.table, sourceRows, targetRows, sourceSha256: sourceHash.digest('hex'), targetSha256: targetHash.digest('hex') };
  return { ...check, ok: check.sourceRows === check.targetRows && check.sourceSha256 === check.targetSha256 };
}

/** Every content: the source file and the target's copy each hash to the declared sha256. */
async function verifyContent(source: Database, files: AttachmentContent, target: AttachmentContent, onProgress?: (p: MigrationProgress) => void): Promise<ContentCheck> {
  const contents = storedContents(source);
  const check: ContentCheck = { contents: contents.total, bytes: 0, verified: 0, failed: 0, problems: [] };
  const problem = (text: string): void => {
    check.failed++;
    if (check.problems.length < MAX_PROBLEMS) check.problems.push(text);
  };
  for (const c of contents.rows) {
    const unreadable = (err: Error) => ({ sha256: `nothing: it cannot be read (${err.message})`, bytes: 0 });
    const [fromFile, fromDb] = await Promise.all([
      sha256Of(files.openRead(c.storagePath, 0)).catch(unreadable),
      sha256Of(target.openRead(pgContentKey(c.sha256), 0)).catch(unreadable),
    ]);
    if (fromFile.sha256 !== c.sha256) problem(`${c.sha256}: the file ${c.storagePath} hashes to ${fromFile.sha256}`);
    else if (fromDb.sha256 !== c.sha256) problem(`${c.sha256}: PostgreSQL's copy hashes to ${fromDb.sha256}`);
    else {
      check.verified++;
      check.bytes += fromDb.bytes;
    }
    onProgress?.({ phase: 'verify-content', table: 'attachments', done: check.verified + check.failed, total: contents.total });
  }
  return check;
}

async function sha256Of(stream: NodeJS.ReadableStream): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** The URL without its password, for what is printed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(not a URL)';
  }
}

/** A sentence for what node-postgres threw (never the URL, so never a password). */
export function describePgError(err: unknown): string {
  // The store's StoreError 'busy' keeps what node-postgres threw as its cause.
  const outer = err as { code?: string; message?: string; cause?: unknown };
  const e = (typeof outer.code !== 'string' && outer.cause && typeof outer.cause === 'object' ? outer.cause : outer) as { code?: string; message?: string };
  switch (e.code) {
    case 'ECONNREFUSED': return 'nothing listens at the address given (connection refused)';
    case 'ENOTFOUND': case 'EAI_AGAIN': return 'the host name does not resolve';
    case 'ETIMEDOUT': return 'the connection timed out';
    case '28P01': case '28000': return 'the server refused the user name or password (give the password through SIAR_STORE or PGPASSWORD)';
    case '3D000': return 'that database does not exist (create it first: createdb, or CREATE DATABASE)';
    case '42501': return 'the user may not create tables in that database';
  }
  const text = e.message ?? String(err);
  return /connection terminated|timeout/i.test(text) ? 'the connection failed or timed out' : text.replace(/postgres(ql)?:\/\/\S+/gi, '(the database URL)');
}

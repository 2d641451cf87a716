/**
 * Seeds members straight into a fresh data dir's database, before its server starts: the project's
 * own SqliteStore opens the file and applies the schema's migrations, and every member gets the
 * same password hash from the project's hashPassword (scrypt, hashed once). Registering thousands
 * of members through REGISTER → APPROVE → credentials mail would take longer than the benchmarks.
 * Logins still verify that real scrypt hash, so the login rate measured is the real one.
 */
import { randomBytes, scrypt } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { hashPassword } from '../../src/server/secrets.js';
import pg from 'pg';
import { PostgresStore } from '../../src/adapters/postgres/postgres-store.js';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';

export const BENCH_PASSWORD = 'bench-password-0123456789';

/**
 * BENCH_CHEAP_HASH=1 — for validating the harness only: members get a scrypt hash of cost N=1024
 * (the format verifyPassword reads, with its cost inside) instead of the project's, so logins are
 * ~16× cheaper. Results are then marked: their login rates are not siar's.
 */
export const CHEAP_HASH = process.env.BENCH_CHEAP_HASH === '1';

const hashes = new Map<boolean, Promise<string>>();
/** BENCH_PASSWORD's hash, computed once: the project's (real scrypt), or the cheap one (`cheap`, default BENCH_CHEAP_HASH). */
export function benchHash(cheap = CHEAP_HASH): Promise<string> {
  let h = hashes.get(cheap);
  if (!h) {
    h = cheap ? cheapHash(BENCH_PASSWORD) : hashPassword(BENCH_PASSWORD);
    hashes.set(cheap, h);
  }
  return h;
}

function cheapHash(password: string): Promise<string> {
  const salt = randomBytes(16);
  return new Promise((resolve, reject) => {
    scrypt(password, salt, 32, { N: 1024, r: 8, p: 1 }, (err, key) => {
      if (err) reject(err);
      else resolve(`scrypt$1024$8$1$${salt.toString('base64')}$${key.toString('base64')}`);
    });
  });
}

/** Usernames `prefix` + zero-padded index, e.g. m00001 (the protocol's username pattern). */
export function memberName(prefix: string, i: number): string {
  return `${prefix}${String(i).padStart(5, '0')}`;
}

/** Inserts `count` active members named prefix00001…; returns their usernames in order. */
export async function seedMembers(dataDir: string, count: number, prefix = 'm'): Promise<string[]> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const hash = await benchHash();
  const store = SqliteStore.open(path.join(dataDir, 'siar.db'));
  try {
    const insert = store.db.prepare(`
      INSERT INTO users (username, role, status, password_hash, institution, contact, email, phone, address,
                         must_change_password, created_at)
      VALUES (?, 'member', 'active', ?, ?, ?, ?, '', '', 0, ?)`);
    const names: string[] = [];
    const at = new Date().toISOString();
    store.db.transaction(() => {
      for (let i = 1; i <= count; i++) {
        const username = memberName(prefix, i);
        insert.run(username, hash, `Institution ${prefix}${i}`, `Contact ${i}`, `${username}@bench.example.ac.id`, at);
        names.push(username);
      }
    })();
    return names;
  } finally {
    await store.close();
  }
}

/**
 * The same for a PostgreSQL store (the cluster scenario): the project's PostgresStore opens the
 * database and applies its migrations, then one INSERT … SELECT over generate_series adds the members
 * (usernames, e-mails and institutions as seedMembers makes them).
 */
export async function seedPostgresMembers(url: string, count: number, prefix = 'm', opts: { cheap?: boolean } = {}): Promise<string[]> {
  const hash = await benchHash(opts.cheap);
  await (await PostgresStore.open(url, { maxConnections: 1 })).close();
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  try {
    await pool.query(`
      INSERT INTO users (username, role, status, password_hash, institution, contact, email, must_change_password, created_at)
      SELECT $1 || lpad(i::text, 5, '0'), 'member', 'active', $2, 'Institution ' || $1 || i, 'Contact ' || i,
             $1 || lpad(i::text, 5, '0') || '@bench.example.ac.id', false, now()
      FROM generate_series(1, $3::int) AS i`, [prefix, hash, count]);
  } finally {
    await pool.end();
  }
  return Array.from({ length: count }, (_, i) => memberName(prefix, i + 1));
}

/** Counts rows after a run (the server stopped): what was committed. */
export function countRows(dataDir: string): { messages: number; recipientRows: number; delivered: number } {
  const store = SqliteStore.open(path.join(dataDir, 'siar.db'));
  try {
    const one = (sql: string): number => Number(store.db.prepare(sql).pluck().get() ?? 0);
    return {
      messages: one('SELECT count(*) FROM messages'),
      recipientRows: one('SELECT count(*) FROM message_recipients'),
      delivered: one('SELECT count(*) FROM message_recipients WHERE delivered_at IS NOT NULL'),
    };
  } finally {
    void store.close();
  }
}

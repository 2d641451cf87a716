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
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';

export const BENCH_PASSWORD = 'bench-password-0123456789';

/**
 * BENCH_CHEAP_HASH=1 — for validating the harness only: members get a scrypt hash of cost N=1024
 * (the format verifyPassword reads, with its cost inside) instead of the project's, so logins are
 * ~16× cheaper. Results are then marked: their login rates are not siar's.
 */
export const CHEAP_HASH = process.env.BENCH_CHEAP_HASH === '1';

let hashOnce: Promise<string> | undefined;
function benchHash(): Promise<string> {
  hashOnce ??= CHEAP_HASH ? cheapHash(BENCH_PASSWORD) : hashPassword(BENCH_PASSWORD);
  return hashOnce;
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

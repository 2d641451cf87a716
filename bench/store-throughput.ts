/**
 * storeMessage throughput of the SQLite and PostgreSQL stores, side by side, in this process
 * (no sockets, no protocol): `senders` callers in a closed loop (one message outstanding each, so
 * group commit batches them as the server's connections do), direct messages to the next member,
 * written delivered at the commit (deliveredAtCommit), as the server does for an online recipient.
 *
 *   node --import tsx bench/store-throughput.ts [--messages 20000] [--senders 100] [--only sqlite|postgres]
 *
 * PostgreSQL: the server at SIAR_TEST_PG_URL (a fresh database on it), or a private one started in
 * a temp dir with fsync on (scripts/services.ts) and stopped at the end. Each store is measured
 * durable (SQLite synchronous=FULL, PostgreSQL synchronous_commit=on: a commit is on disk when
 * acknowledged) and as the server runs by default (SQLite NORMAL; PostgreSQL synchronous_commit=off,
 * which like NORMAL may lose the last commits on power loss, never on a crash of siar).
 * Not part of `npm run bench`: a quick comparison, on whatever machine it runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PostgresStore } from '../src/adapters/postgres/postgres-store.js';
import { SqliteStore } from '../src/adapters/sqlite/sqlite-store.js';
import type { Store, User } from '../src/core/ports/store.js';
import { startPostgres } from '../scripts/services.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    senders: { type: 'string', default: '100' },
    only: { type: 'string' },
  },
});
const MESSAGES = Number(values.messages);
const SENDERS = Number(values.senders);

interface Result {
  store: string;
  messagesPerSec: number;
  p50Ms: number;
  p99Ms: number;
  cpuMsPerMessage: number;
}

async function seed(store: Store, n: number): Promise<User[]> {
  await store.ensureAdmin('bench-admin');
  const admin = (await store.getUserByUsername('admin'))!;
  const users: User[] = [];
  for (let i = 0; i < n; i++) {
    const username = `m${String(i).padStart(4, '0')}`;
    const request = await store.createRegistration({
      institution: `Institution ${i}`, contact: 'c', email: `${username}@example.org`, phone: '', address: '', username, fromAddress: null,
    });
    users.push((await store.approveRegistration({
      requestId: request.id, adminId: admin.id, passwordHash: 'x', mail: { kind: 'credentials', to: request.email, subject: 's', sealedText: 't' },
    })).user);
  }
  return users;
}

async function measure(label: string, store: Store): Promise<Result> {
  const members = await seed(store, SENDERS + 1);
  const latencies: number[] = [];
  let next = 0;
  const body = 'd'.repeat(200);
  const sender = async (i: number): Promise<void> => {
    while (next < MESSAGES) {
      const n = next++;
      const started = performance.now();
      await (store.deliveredAtCommit?.(() => true) ?? store).storeMessage({
        senderId: members[i]!.id, audience: 'direct', recipientIds: [members[i + 1]!.id], subject: `d${n}`, body,
      });
      latencies.push(performance.now() - started);
    }
  };
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(Array.from({ length: SENDERS }, (_, i) => sender(i)));
  const seconds = (performance.now() - t0) / 1000;
  const used = process.cpuUsage(cpu);
  latencies.sort((a, b) => a - b);
  const at = (q: number) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]! * 10) / 10;
  const result = {
    store: label,
    messagesPerSec: Math.round(MESSAGES / seconds),
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    cpuMsPerMessage: Math.round(((used.user + used.system) / 1000 / MESSAGES) * 1000) / 1000,
  };
  process.stderr.write(`${JSON.stringify(result)}\n`);
  return result;
}

async function sqliteRuns(): Promise<Result[]> {
  const results: Result[] = [];
  for (const synchronous of ['FULL', 'NORMAL'] as const) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'siar-bench-store-'));
    const store = SqliteStore.open(path.join(dir, 'siar.db'), { synchronous, checkpointInBackground: true });
    try {
      await store.backgroundReady();
      results.push(await measure(`sqlite synchronous=${synchronous}`, store));
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return results;
}

async function postgresRuns(): Promise<Result[]> {
  let stop = async (): Promise<void> => {};
  let url = process.env.SIAR_TEST_PG_URL;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'siar-bench-pg-'));
  try {
    if (!url) {
      const started = await startPostgres(path.join(dir, 'pg'), { fast: false });
      url = started.url;
      stop = started.stop;
    }
    const admin = new pg.Client(url);
    await admin.connect();
    const results: Result[] = [];
    try {
      for (const synchronousCommit of ['on', 'off']) {
        const database = `siar_bench_${process.pid}_${synchronousCommit}`;
        await admin.query(`CREATE DATABASE ${database}`);
        await admin.query(`ALTER DATABASE ${database} SET synchronous_commit = ${synchronousCommit}`);
        const u = new URL(url);
        u.pathname = `/${database}`;
        const store = await PostgresStore.open(u.toString());
        try {
          results.push(await measure(`postgres synchronous_commit=${synchronousCommit}`, store));
        } finally {
          await store.close();
          await admin.query(`DROP DATABASE ${database} WITH (FORCE)`);
        }
      }
    } finally {
      await admin.end();
    }
    const fsync = process.env.SIAR_TEST_PG_URL ? 'as configured at SIAR_TEST_PG_URL' : 'fsync on (private server)';
    process.stderr.write(`postgres: ${fsync}\n`);
    return results;
  } finally {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [
  ...(values.only !== 'postgres' ? await sqliteRuns() : []),
  ...(values.only !== 'sqlite' ? await postgresRuns() : []),
];
const load = os.loadavg()[0]!.toFixed(1);
console.log(`storeMessage: ${MESSAGES} direct messages, ${SENDERS} concurrent senders; ${os.cpus().length} cores, load average ${load} at the end\n`);
console.log('| store | messages/s | p50 ms | p99 ms | CPU ms/message (this process) |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const r of results) console.log(`| ${r.store} | ${r.messagesPerSec} | ${r.p50Ms} | ${r.p99Ms} | ${r.cpuMsPerMessage} |`);

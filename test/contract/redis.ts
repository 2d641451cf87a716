/**
 * The Redis server the Redis adapters' contract cases run on: SIAR_TEST_REDIS_URL's (CI sets it,
 * .ci/run), or else a private one this test process starts in a temp dir (scripts/services.ts) and
 * stops when the file's tests end. Without Redis installed the redis cases are skipped with the
 * reason, except under CI, where they fail (test/helpers/capability.ts). Each test gets a key and
 * channel prefix of its own.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tap from 'tap';
import { Redis } from 'ioredis';
import { redisServerPath, startRedis } from '../../scripts/services.js';

let server: Promise<string> | undefined;

export function redisUrl(): Promise<string> {
  server ??= (async () => {
    if (process.env.SIAR_TEST_REDIS_URL) return process.env.SIAR_TEST_REDIS_URL;
    const dir = mkdtempSync(path.join(tmpdir(), 'siar-contract-redis-'));
    tap.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const started = await startRedis(path.join(dir, 'redis'));
    tap.teardown(() => started.stop());
    // Should the process die before tap's teardown, the server must not outlive it.
    const pid = Number(readFileSync(path.join(started.dir, 'redis.pid'), 'utf8'));
    process.once('exit', () => {
      try { process.kill(pid, 'SIGTERM'); } catch { /* already stopped */ }
    });
    return started.url;
  })();
  return server;
}

/** Why the redis cases cannot run here, or false. */
export function redisMissing(): string | false {
  if (process.env.SIAR_TEST_REDIS_URL) return false;
  return redisServerPath() ? false : 'Redis is not installed (apt-get install redis-server) and SIAR_TEST_REDIS_URL is not set';
}

let prefixes = 0;

/** A key prefix no other test (of this or another process) uses. */
export function freshPrefix(): string {
  return `siar-test-${process.pid}-${++prefixes}-${Date.now().toString(36)}:`;
}

/** Cuts a client's connection from the server side, as a network fault would (CLIENT KILL by its name). */
export async function killClient(url: string, name: string): Promise<void> {
  const admin = new Redis(url);
  try {
    const list = await admin.client('LIST') as string;
    for (const line of list.split('\n')) {
      const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
      if (id && line.includes(` name=${name} `)) await admin.client('KILL', 'ID', id);
    }
  } finally {
    admin.disconnect();
  }
}

/**
 * The --bus URL of a test file's cluster: Redis database `db` (1–15, one per file), emptied first.
 * A cluster's nodes share every key of their Redis database (bus, presence, leases: the node holding
 * the mail queue's lease sends every mail), so two test files' clusters must not share one.
 */
export async function clusterBus(db: number): Promise<string> {
  const url = `${await redisUrl()}/${db}`;
  const redis = new Redis(url);
  try {
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
  return url;
}

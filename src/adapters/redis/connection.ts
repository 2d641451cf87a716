/** Redis connections for the bus, presence and counters adapters (ioredis: reconnects by itself). */
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { clusterKeyPrefix } from '../../core/cluster-name.js';

export interface RedisAdapterOptions {
  /** Every key and channel starts with it, so several clusters (or tests) can share one Redis. */
  prefix?: string;
  /** Hears a connection error (ioredis keeps retrying meanwhile). */
  onError?: (err: unknown) => void;
}

/** The unnamed cluster's prefix (src/core/cluster-name.ts: a named one's is siar@NAME:). */
export const DEFAULT_PREFIX = clusterKeyPrefix(null);

/** A connection to `url` that retries for ever with a short backoff and queues commands while down. */
export function connectRedis(url: string, name: string, onError: (err: unknown) => void, extra: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    retryStrategy: (times) => Math.min(50 * times, 2000),
    maxRetriesPerRequest: null,
    ...extra,
  });
  redis.on('error', onError);
  return redis;
}

/**
 * Runs a Lua script by its SHA1 (EVALSHA), sending its text only when Redis does not have it yet
 * (after a restart or a SCRIPT FLUSH): the hot paths do not send the script each time.
 */
export async function runScript(redis: Redis, script: string, keys: readonly string[], args: readonly string[]): Promise<unknown> {
  const sha = createHash('sha1').update(script).digest('hex');
  try {
    return await redis.evalsha(sha, keys.length, ...keys, ...args);
  } catch (err) {
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
    return redis.eval(script, keys.length, ...keys, ...args);
  }
}

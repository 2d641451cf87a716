/** Redis connections for the bus, presence and counters adapters (ioredis: reconnects by itself). */
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisAdapterOptions {
  /** Every key and channel starts with it, so several clusters (or tests) can share one Redis. */
  prefix?: string;
  /** Hears a connection error (ioredis keeps retrying meanwhile). */
  onError?: (err: unknown) => void;
}

export const DEFAULT_PREFIX = 'siar:';

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

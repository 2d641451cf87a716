/**
 * Redis connections for the bus, presence, throttle, sending-rate, counters and lease adapters
 * (ioredis: reconnects by itself).
 *
 * Nothing waits for an unreachable Redis without bound. ioredis queues every command issued while
 * it is disconnected (its offline queue, with no size limit) and, with maxRetriesPerRequest null,
 * keeps them until Redis is back: an outage of minutes under load grew the node's memory without
 * bound, and every caller that awaited a command (LOGIN, ONLINE, SUSPEND…) hung until then. So:
 * - the offline queue is on only until the connection is first ready (a node does not serve yet);
 *   from then on a command issued while Redis is unreachable fails at once;
 * - a command that had been sent when the connection dropped is not sent again after it is back
 *   (its caller was told it failed), and every command fails after REDIS_COMMAND_TIMEOUT_MS
 *   without an answer (a Redis that hangs, or a network that drops packets without a reset);
 * - a connection that gets no answer for REDIS_SOCKET_TIMEOUT_MS after a command is dropped and
 *   reconnected, so what it holds in flight stays bounded too.
 * Each adapter turns those failures into BusUnreachable (core/ports/unreachable.ts, `reach`), and its
 * callers do their degraded thing (README, "Several nodes", When something fails).
 */
import { createHash } from 'node:crypto';
import { Redis, type RedisOptions } from 'ioredis';
import { clusterKeyPrefix } from '../../core/cluster-name.js';
import { BusUnreachable } from '../../core/ports/unreachable.js';

/** How long a command may go unanswered before it fails. */
export const REDIS_COMMAND_TIMEOUT_MS = 5_000;
/** How long a connection waits for any answer to what it sent before it is dropped and reconnected. */
export const REDIS_SOCKET_TIMEOUT_MS = 10_000;

export interface RedisAdapterOptions {
  /** Every key and channel starts with it, so several clusters (or tests) can share one Redis. */
  prefix?: string;
  /** Hears a connection error (ioredis keeps retrying meanwhile). */
  onError?: (err: unknown) => void;
}

/** The unnamed cluster's prefix (src/core/cluster-name.ts: a named one's is siar@NAME:). */
export const DEFAULT_PREFIX = clusterKeyPrefix(null);

/**
 * A connection to `url` that retries for ever with a short backoff; commands wait for its first
 * connection, and never for a later one (above).
 */
export function connectRedis(url: string, name: string, onError: (err: unknown) => void, extra: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    retryStrategy: (times) => Math.min(50 * times, 2000),
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    autoResendUnfulfilledCommands: false,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    socketTimeout: REDIS_SOCKET_TIMEOUT_MS,
    ...extra,
  });
  // ioredis reads the option at each command: from the first 'ready' on, nothing is queued.
  redis.once('ready', () => { redis.options.enableOfflineQueue = false; });
  redis.on('error', onError);
  return redis;
}

/**
 * Connects (see connectRedis) and waits for the first answer, at most REDIS_COMMAND_TIMEOUT_MS: a
 * node does not start on a Redis it cannot reach. The connection is let go when it fails.
 */
export async function openRedis(url: string, name: string, onError: (err: unknown) => void): Promise<Redis> {
  const redis = connectRedis(url, name, onError);
  try {
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw new Error(`Redis (--bus) did not answer within ${REDIS_COMMAND_TIMEOUT_MS / 1000} s: ${err instanceof Error ? err.message : String(err)}`);
  }
  return redis;
}

/** ioredis's ways of saying that a command got no answer because Redis was not reachable. */
const UNREACHABLE = /Stream isn't writeable|Connection is closed|Command timed out|Command aborted|MaxRetriesPerRequest|Socket timeout|ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENOTFOUND/;

/** `err` as BusUnreachable when it says Redis was unreachable; any other error (a reply error, a bug) as it is. */
export function unreachableOr(err: unknown): unknown {
  if (err instanceof BusUnreachable || !(err instanceof Error)) return err;
  if (err.name !== 'MaxRetriesPerRequestError' && !UNREACHABLE.test(err.message)) return err;
  return new BusUnreachable(`Redis (--bus) is unreachable: ${err.message}`, { cause: err });
}

/** Awaits a command, its failure for want of Redis as BusUnreachable. */
export async function reach<T>(command: Promise<T>): Promise<T> {
  try {
    return await command;
  } catch (err) {
    throw unreachableOr(err);
  }
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
    if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw unreachableOr(err);
    return reach(redis.eval(script, keys.length, ...keys, ...args));
  }
}

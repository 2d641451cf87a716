/**
 * The sending rate on Redis (src/core/ports/send-rate.ts): one count per member for every node of
 * the cluster. Two counters per member, one per minute (PREFIX send:ID:MINUTE), each expiring two
 * minutes after its last send, so an idle member costs nothing after two minutes and the keys need
 * no sweeping. Each send is one Lua script: it reads both counters, decides with the sliding
 * estimate and counts the send in the same step, so sends on several nodes at once cannot all pass
 * one count. The clock is the caller's (passed to the script), as in process; the retry-after is
 * worked out here from the two counts the script returns, with the same arithmetic as in process.
 *
 * Redis unreachable: the connection queues nothing (connection.ts), so the script fails at once
 * while Redis is down, and a send waits at most `waitMs` for a Redis that does not answer; either way
 * it is let through uncounted (and onError hears why), so a Redis outage never refuses or stalls sends.
 * The store, not Redis, is what a send needs; the limit is a brake, not a guard.
 */
import type { Redis } from 'ioredis';
import {
  MINUTE_MS, advanceWindow, estimateSends, minuteOf, retryAfterMs, type SendRate, type SendVerdict,
} from '../../core/ports/send-rate.js';
import { BusUnreachable } from '../../core/ports/unreachable.js';
import { DEFAULT_PREFIX, openRedis, reach, runScript, type RedisAdapterOptions } from './connection.js';

/** How long a counter outlives its last send: its minute and the next, in which it is `previous`. */
const KEEP_MS = 2 * MINUTE_MS;
/** Members whose counts one MGET reads, for the administrator's listing. */
const LIST_BATCH = 500;
/** How long a send waits for an unreachable Redis before it is let through uncounted. */
const DEFAULT_WAIT_MS = 2_000;

/**
 * KEYS: this minute's counter, last minute's. ARGV: now, perMinute, the counters' lifetime in ms.
 * Returns { 1 when counted, 0 when refused; this minute's count (the send included); last minute's }.
 */
const TAKE = `
local now, limit, keep = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local previous = tonumber(redis.call('GET', KEYS[2]) or '0')
local elapsed = (now % ${MINUTE_MS}) / ${MINUTE_MS}
if previous * (1 - elapsed) + current + 1 > limit then return { 0, current, previous } end
current = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], keep)
return { 1, current, previous }
`;

export interface RedisSendRateOptions extends RedisAdapterOptions {
  /** What is counted, the keys' name (PREFIX<counter>:ID:MINUTE): `send` (the default), `report`. */
  counter?: string;
  /** The clock (the contract suite runs a fake one); Date.now by default. */
  now?: () => number;
  /** How long a send waits for an unreachable Redis before it is let through uncounted (default 2 s). */
  waitMs?: number;
}


export class RedisSendRate implements SendRate {
  private readonly prefix: string;
  private readonly now: () => number;
  private readonly onError: (err: unknown) => void;
  private readonly waitMs: number;
  private closed = false;

  private constructor(private readonly redis: Redis, readonly perMinute: number, opts: RedisSendRateOptions) {
    this.prefix = `${opts.prefix ?? DEFAULT_PREFIX}${opts.counter ?? 'send'}:`;
    this.now = opts.now ?? Date.now;
    this.onError = opts.onError ?? (() => undefined);
    this.waitMs = opts.waitMs ?? DEFAULT_WAIT_MS;
  }

  static async connect(url: string, perMinute: number, opts: RedisSendRateOptions = {}): Promise<RedisSendRate> {
    const redis = await openRedis(url, `${opts.prefix ?? DEFAULT_PREFIX}${opts.counter ?? 'send'}-rate`, opts.onError ?? (() => undefined));
    return new RedisSendRate(redis, perMinute, opts);
  }

  async take(userId: number): Promise<SendVerdict> {
    if (this.perMinute <= 0) return { ok: true };
    const at = this.now();
    const minute = minuteOf(at);
    let reply: [number, number, number];
    try {
      reply = await this.bounded(runScript(this.redis, TAKE, [this.key(userId, minute), this.key(userId, minute - 1)],
        [String(at), String(this.perMinute), String(KEEP_MS)]) as Promise<[number, number, number]>);
    } catch (err) {
      // The send goes on uncounted, and the log says so.
      this.onError(err instanceof BusUnreachable ? err.withMeaning('a send went through without counting toward --max-sends-per-minute') : err);
      return { ok: true };
    }
    const [counted, current, previous] = [Number(reply[0]), Number(reply[1]), Number(reply[2])];
    if (counted === 1) return { ok: true };
    return { ok: false, retryAfterMs: retryAfterMs({ minute, current, previous }, at, this.perMinute) };
  }

  async lastMinute(userIds: readonly number[]): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    if (userIds.length === 0) return counts;
    const at = this.now();
    const minute = minuteOf(at);
    // A batch of members per MGET, so a long member list does not hold Redis up in one command. Unlike
    // a send, the listing is not answered without Redis: a count of 0 would be a wrong figure.
    for (let from = 0; from < userIds.length; from += LIST_BATCH) {
      const ids = userIds.slice(from, from + LIST_BATCH);
      const values = await this.bounded(reach(this.redis.mget(ids.flatMap((id) => [this.key(id, minute), this.key(id, minute - 1)]))));
      ids.forEach((id, i) => {
        const w = advanceWindow({ minute, current: Number(values[2 * i] ?? 0), previous: Number(values[2 * i + 1] ?? 0) }, at);
        counts.set(id, Math.round(estimateSends(w, at)));
      });
    }
    return counts;
  }

  async stop(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private key(userId: number, minute: number): string {
    return `${this.prefix}${userId}:${minute}`;
  }

  /** `p`, or BusUnreachable after waitMs (the command, already sent, may still count later). */
  private bounded<T>(p: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new BusUnreachable(`Redis (--bus) did not answer the send rate within ${this.waitMs} ms`)), this.waitMs);
    });
    return Promise.race([p, late]).finally(() => clearTimeout(timer));
  }
}

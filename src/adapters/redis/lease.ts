/**
 * Leases on Redis: per name a key holding the grant's fencing token with a PX expiry (SET NX PX
 * inside one script, the token from a per-name INCR that never resets), so a dead holder's lease
 * runs out by Redis's clock. Renewing and releasing compare the token first, in the same script.
 */
import type { Redis } from 'ioredis';
import type { LeaseGrant, Leases } from '../../core/ports/lease.js';
import { DEFAULT_PREFIX, openRedis, reach, type RedisAdapterOptions } from './connection.js';

/** KEYS: the lease, its fence counter. ARGV: ttl. The new token, or false when held. */
const ACQUIRE = `
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[1])
return token
`;

/** KEYS: the lease. ARGV: token, ttl. 1 when renewed. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`;

/** KEYS: the lease. ARGV: token. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

export class RedisLeases implements Leases {
  private readonly prefix: string;

  private constructor(private readonly redis: Redis, prefix: string) {
    this.prefix = `${prefix}lease:`;
  }

  static async connect(url: string, options: RedisAdapterOptions = {}): Promise<RedisLeases> {
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    const redis = await openRedis(url, `${prefix}lease`, options.onError ?? (() => undefined));
    return new RedisLeases(redis, prefix);
  }

  async acquire(name: string, ttlMs: number): Promise<LeaseGrant | null> {
    const token = await reach(this.redis.eval(ACQUIRE, 2, this.key(name), `${this.key(name)}:fence`, String(Math.max(1, Math.round(ttlMs))))) as number | null;
    return token === null ? null : { name, token: Number(token) };
  }

  async renew(grant: LeaseGrant, ttlMs: number): Promise<boolean> {
    return (await reach(this.redis.eval(RENEW, 1, this.key(grant.name), String(grant.token), String(Math.max(1, Math.round(ttlMs)))))) === 1;
  }

  async release(grant: LeaseGrant): Promise<void> {
    await reach(this.redis.eval(RELEASE, 1, this.key(grant.name), String(grant.token)));
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }
}

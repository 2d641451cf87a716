/**
 * Presence on Redis. Per node: a hash of its connections (cid → entry), and per-member counts of
 * connections and of connections that take popups, so reads cost one field per live node. Every key
 * of a node lives for `ttlMs` and is renewed by its heartbeat (every ttlMs / 3): a node that dies
 * drops out of presence within ttlMs, with nobody cleaning up after it. Each write is one Lua script,
 * so the counts never disagree with the entries.
 */
import type { Redis } from 'ioredis';
import type { OnlineEntry, Presence, PresenceEntry } from '../../core/ports/presence.js';
import { DEFAULT_PREFIX, openRedis, reach, type RedisAdapterOptions } from './connection.js';

/** Replaces (ARGV[2] an entry) or removes (ARGV[2] empty) connection ARGV[1] of a node. */
const WRITE = `
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local o = cjson.decode(old)
  local u = tostring(o.userId)
  if redis.call('HINCRBY', KEYS[2], u, -1) <= 0 then redis.call('HDEL', KEYS[2], u) end
  if o.popups then
    if redis.call('HINCRBY', KEYS[3], u, -1) <= 0 then redis.call('HDEL', KEYS[3], u) end
  end
  redis.call('HDEL', KEYS[1], ARGV[1])
end
if ARGV[2] ~= '' then
  local e = cjson.decode(ARGV[2])
  e.seq = redis.call('INCR', KEYS[5])
  local u = tostring(e.userId)
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(e))
  redis.call('HINCRBY', KEYS[2], u, 1)
  if e.popups then redis.call('HINCRBY', KEYS[3], u, 1) end
end
for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
redis.call('SADD', KEYS[4], ARGV[4])
return 1
`;

type Stored = PresenceEntry & { seq: number };

export interface RedisPresenceOptions extends RedisAdapterOptions {
  /** How long a node's entries outlive its last heartbeat. */
  ttlMs?: number;
}

export class RedisPresence implements Presence {
  private readonly prefix: string;
  private readonly ttlMs: number;
  /** The nodes this process writes for, whose keys its heartbeat renews. */
  private readonly own = new Set<string>();
  private readonly heartbeat: NodeJS.Timeout;

  private constructor(private readonly redis: Redis, options: RedisPresenceOptions) {
    this.prefix = `${options.prefix ?? DEFAULT_PREFIX}presence:`;
    this.ttlMs = options.ttlMs ?? 30_000;
    this.heartbeat = setInterval(() => { this.renew().catch(options.onError ?? (() => undefined)); }, Math.max(50, Math.floor(this.ttlMs / 3)));
    this.heartbeat.unref();
  }

  static async connect(url: string, options: RedisPresenceOptions = {}): Promise<RedisPresence> {
    const redis = await openRedis(url, `${options.prefix ?? DEFAULT_PREFIX}presence`, options.onError ?? (() => undefined));
    return new RedisPresence(redis, options);
  }

  async set(entry: PresenceEntry): Promise<void> {
    await this.write(entry.node, entry.cid, JSON.stringify(entry));
  }

  async remove(node: string, cid: number): Promise<void> {
    await this.write(node, cid, '');
  }

  async removeNode(node: string): Promise<void> {
    this.own.delete(node);
    await reach(this.redis.multi().del(...this.nodeKeys(node)).srem(this.nodesKey(), node).exec());
  }

  async connectionsOf(userId: number, options: { exceptNode?: string } = {}): Promise<number> {
    return (await this.countsOf('users', [userId], options.exceptNode))[0]!;
  }

  async onlineAmong(userIds: readonly number[]): Promise<Set<number>> {
    if (userIds.length === 0) return new Set();
    const counts = await this.countsOf('users', userIds);
    return new Set(userIds.filter((_, i) => counts[i]! > 0));
  }

  async acceptsPopups(userId: number): Promise<boolean> {
    return (await this.countsOf('popups', [userId]))[0]! > 0;
  }

  async online(): Promise<OnlineEntry[]> {
    const nodes = await reach(this.redis.smembers(this.nodesKey()));
    const hashes = await reach(Promise.all(nodes.map((n) => this.redis.hgetall(this.nodeKeys(n)[0]))));
    const entries = hashes.flatMap((h) => Object.values(h).map((v) => JSON.parse(v) as Stored)).sort((a, b) => a.seq - b.seq);
    const byUser = new Map<number, OnlineEntry>();
    for (const e of entries) {
      let o = byUser.get(e.userId);
      if (!o) byUser.set(e.userId, (o = { userId: e.userId, username: e.username, connections: [] }));
      o.connections.push({ node: e.node, cid: e.cid, address: e.address, since: e.since });
    }
    return [...byUser.values()];
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private async write(node: string, cid: number, entry: string): Promise<void> {
    this.own.add(node);
    await reach(this.redis.eval(WRITE, 5, ...this.nodeKeys(node), this.nodesKey(), `${this.prefix}seq`, String(cid), entry, String(this.ttlMs), node));
  }

  /** Per member, the count summed over the live nodes (a dead node's keys have expired). */
  private async countsOf(kind: 'users' | 'popups', userIds: readonly number[], exceptNode?: string): Promise<number[]> {
    const nodes = (await reach(this.redis.smembers(this.nodesKey()))).filter((n) => n !== exceptNode);
    const fields = userIds.map(String);
    const perNode = await reach(Promise.all(nodes.map((n) => this.redis.hmget(`${this.prefix}node:${n}:${kind}`, ...fields))));
    return userIds.map((_, i) => perNode.reduce((sum, counts) => sum + Number(counts[i] ?? 0), 0));
  }

  /** Renews this process's nodes' keys, and forgets nodes whose keys have all expired. */
  private async renew(): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const node of this.own) for (const key of this.nodeKeys(node)) pipeline.pexpire(key, this.ttlMs);
    await reach(pipeline.exec());
    for (const node of await reach(this.redis.smembers(this.nodesKey()))) {
      if (!this.own.has(node) && (await this.redis.exists(...this.nodeKeys(node))) === 0) await this.redis.srem(this.nodesKey(), node);
    }
  }

  private nodeKeys(node: string): [string, string, string] {
    return [`${this.prefix}node:${node}`, `${this.prefix}node:${node}:users`, `${this.prefix}node:${node}:popups`];
  }

  private nodesKey(): string {
    return `${this.prefix}nodes`;
  }
}

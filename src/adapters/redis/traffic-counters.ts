/**
 * Traffic counters on Redis: per node a hash of counts (HINCRBY) and a list of its completed
 * minutes (RPUSH, LTRIM to historyMinutes); a sorted set lists the nodes in the order they first
 * reported. Counts are not the only copy of anything: a Redis restart starts them again.
 */
import type { Redis } from 'ioredis';
import type { MinuteSample } from '../../protocol/index.js';
import {
  COUNTER_FIELDS, NO_COUNTS, addCounts, sumSamples, type CounterValues, type TrafficCounters, type TrafficTotals,
} from '../../core/ports/traffic-counters.js';
import { DEFAULT_PREFIX, openRedis, reach, type RedisAdapterOptions } from './connection.js';

/** Adds the node to the list of nodes (once, in order) and ARGV[2..] (field, delta pairs) to its counts. */
const ADD = `
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[1]) end
for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[3], ARGV[i], ARGV[i + 1]) end
return 1
`;

const FIELDS = COUNTER_FIELDS;

export class RedisTrafficCounters implements TrafficCounters {
  private readonly prefix: string;

  private constructor(private readonly redis: Redis, private readonly historyMinutes: number, prefix: string) {
    this.prefix = `${prefix}traffic:`;
  }

  static async connect(url: string, historyMinutes = 60, options: RedisAdapterOptions = {}): Promise<RedisTrafficCounters> {
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    const redis = await openRedis(url, `${prefix}traffic`, options.onError ?? (() => undefined));
    return new RedisTrafficCounters(redis, historyMinutes, prefix);
  }

  async add(node: string, deltas: Partial<CounterValues>): Promise<void> {
    const pairs = FIELDS.flatMap((f) => (deltas[f] ? [f, String(deltas[f])] : []));
    await reach(this.redis.eval(ADD, 3, this.nodesKey(), `${this.prefix}seq`, this.countsKey(node), node, ...pairs));
  }

  async restart(node: string): Promise<void> {
    await this.add(node, {});
    await reach(this.redis.del(this.countsKey(node)));
  }

  async recordMinute(node: string, sample: MinuteSample): Promise<void> {
    await this.add(node, {});
    await reach(this.redis.multi()
      .rpush(this.minutesKey(node), JSON.stringify(sample))
      .ltrim(this.minutesKey(node), -this.historyMinutes, -1)
      .exec());
  }

  async totals(): Promise<TrafficTotals> {
    const names = await reach(this.redis.zrange(this.nodesKey(), 0, -1));
    const nodes = await Promise.all(names.map(async (node) => {
      const h = await reach(this.redis.hgetall(this.countsKey(node)));
      const counters = { ...NO_COUNTS };
      for (const f of FIELDS) counters[f] = Number(h[f] ?? 0);
      return { node, counters };
    }));
    return { nodes, total: nodes.reduce((sum, n) => addCounts(sum, n.counters), { ...NO_COUNTS }) };
  }

  async history(minutes: number, node?: string): Promise<MinuteSample[]> {
    if (minutes <= 0) return [];
    const names = node === undefined ? await reach(this.redis.zrange(this.nodesKey(), 0, -1)) : [node];
    const lists = await reach(Promise.all(names.map((n) => this.redis.lrange(this.minutesKey(n), 0, -1))));
    const byMinute = new Map<string, MinuteSample[]>();
    for (const s of lists.flat().map((x) => JSON.parse(x) as MinuteSample)) byMinute.set(s.at, [...(byMinute.get(s.at) ?? []), s]);
    return [...byMinute.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, samples]) => sumSamples(samples)).slice(-minutes);
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }

  private nodesKey(): string {
    return `${this.prefix}nodes`;
  }

  private countsKey(node: string): string {
    return `${this.prefix}node:${node}`;
  }

  private minutesKey(node: string): string {
    return `${this.prefix}node:${node}:minutes`;
  }
}

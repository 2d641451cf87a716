/** Traffic counters in this process's memory: today's single node (or several nodes of one test). */
import type { MinuteSample } from '../../protocol/index.js';
import { NO_COUNTS, addCounts, sumSamples, type CounterValues, type TrafficCounters, type TrafficTotals } from '../../core/ports/traffic-counters.js';

interface NodeCounts {
  counters: CounterValues;
  minutes: MinuteSample[];
}

export class MemoryTrafficCounters implements TrafficCounters {
  private readonly nodes = new Map<string, NodeCounts>();

  constructor(private readonly historyMinutes = 60) {}

  async add(node: string, deltas: Partial<CounterValues>): Promise<void> {
    const n = this.nodeOf(node);
    n.counters = addCounts(n.counters, deltas);
  }

  async restart(node: string): Promise<void> {
    this.nodeOf(node).counters = { ...NO_COUNTS };
  }

  async recordMinute(node: string, sample: MinuteSample): Promise<void> {
    const n = this.nodeOf(node);
    n.minutes.push({ ...sample });
    if (n.minutes.length > this.historyMinutes) n.minutes.splice(0, n.minutes.length - this.historyMinutes);
  }

  async totals(): Promise<TrafficTotals> {
    const nodes = [...this.nodes.entries()].map(([node, n]) => ({ node, counters: { ...n.counters } }));
    return { nodes, total: nodes.reduce((sum, n) => addCounts(sum, n.counters), { ...NO_COUNTS }) };
  }

  async history(minutes: number, node?: string): Promise<MinuteSample[]> {
    const sources = node === undefined ? [...this.nodes.values()] : [this.nodes.get(node)].filter((n): n is NodeCounts => n !== undefined);
    const byMinute = new Map<string, MinuteSample[]>();
    for (const n of sources) for (const s of n.minutes) byMinute.set(s.at, [...(byMinute.get(s.at) ?? []), s]);
    const merged = [...byMinute.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, samples]) => sumSamples(samples));
    return minutes > 0 ? merged.slice(-minutes) : [];
  }

  async close(): Promise<void> {
    this.nodes.clear();
  }

  private nodeOf(node: string): NodeCounts {
    let n = this.nodes.get(node);
    if (!n) this.nodes.set(node, (n = { counters: { ...NO_COUNTS }, minutes: [] }));
    return n;
  }
}

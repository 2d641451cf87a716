/**
 * The in-process bus: every node of one hub (in practice one: this process) hears every event at
 * once, synchronously inside publish, so a push published in a command's afterReply leaves in the
 * same turn (and the same corked write) as the OK, as it always did. It never loses an event, so
 * onReconnect listeners never run.
 */
import type { Bus, BusEvent, BusListener } from '../../core/ports/bus.js';

export class MemoryBusHub {
  private readonly nodes = new Set<MemoryBus>();

  /** A node's bus on this hub; `onError` hears what a listener threw. */
  node(nodeId: string, onError: (err: unknown, event: BusEvent) => void = () => undefined): MemoryBus {
    const bus = new MemoryBus(this, nodeId, onError);
    this.nodes.add(bus);
    return bus;
  }

  /** @internal */
  fanOut(event: BusEvent, origin: string): void {
    for (const node of [...this.nodes]) node.hear(event, origin);
  }

  /** @internal */
  leave(node: MemoryBus): void {
    this.nodes.delete(node);
  }
}

export class MemoryBus implements Bus {
  private readonly listeners = new Set<BusListener>();
  private closed = false;

  constructor(private readonly hub: MemoryBusHub, readonly nodeId: string, private readonly onError: (err: unknown, event: BusEvent) => void) {}

  /** A bus of its own, for a single process. */
  static standalone(nodeId: string, onError?: (err: unknown, event: BusEvent) => void): MemoryBus {
    return new MemoryBusHub().node(nodeId, onError);
  }

  async publish(event: BusEvent): Promise<void> {
    if (this.closed) throw new Error('the bus is closed');
    this.hub.fanOut(event, this.nodeId);
  }

  subscribe(listener: BusListener): () => void {
    // Wrapped, so one function subscribed twice is two subscriptions.
    const entry: BusListener = (event, meta) => listener(event, meta);
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  onReconnect(): () => void {
    return () => undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    this.hub.leave(this);
  }

  /** @internal */
  hear(event: BusEvent, origin: string): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event, { origin });
      } catch (err) {
        this.onError(err, event);
      }
    }
  }
}

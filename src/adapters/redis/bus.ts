/**
 * The bus on Redis pub/sub: one channel per cluster, one connection to publish (so a node's events
 * keep their order) and one to listen. Redis pub/sub drops what is published while a listener is
 * disconnected: ioredis re-subscribes after reconnecting, and then the onReconnect listeners run so
 * the node catches up from the store (events are wake-ups, never the only copy).
 */
import type { Redis } from 'ioredis';
import type { Bus, BusEvent, BusListener } from '../../core/ports/bus.js';
import { DEFAULT_PREFIX, connectRedis, type RedisAdapterOptions } from './connection.js';

interface Envelope {
  o: string;
  e: BusEvent;
}

export class RedisBus implements Bus {
  private readonly listeners = new Set<BusListener>();
  private readonly reconnectListeners = new Set<() => void>();
  private readonly channel: string;
  private closed = false;

  private constructor(
    readonly nodeId: string,
    private readonly pub: Redis,
    /** @internal the listening connection (tests cut it to check reconnection) */
    readonly sub: Redis,
    prefix: string,
    private readonly onListenerError: (err: unknown, event: BusEvent) => void,
  ) {
    this.channel = `${prefix}bus`;
  }

  /** Joins the bus at `url` as `nodeId`; resolves once it listens. */
  static async connect(
    url: string, nodeId: string, options: RedisAdapterOptions & { onListenerError?: (err: unknown, event: BusEvent) => void } = {},
  ): Promise<RedisBus> {
    const onError = options.onError ?? (() => undefined);
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    const pub = connectRedis(url, `${prefix}bus-pub-${nodeId}`, onError);
    const sub = connectRedis(url, RedisBus.listenerName(prefix, nodeId), onError);
    const bus = new RedisBus(nodeId, pub, sub, prefix, options.onListenerError ?? (() => undefined));
    try {
      await bus.listen();
    } catch (err) {
      pub.disconnect();
      sub.disconnect();
      throw err;
    }
    return bus;
  }

  /** The listening connection's client name (CLIENT LIST), e.g. to cut it in a test. */
  static listenerName(prefix: string, nodeId: string): string {
    return `${prefix}bus-sub-${nodeId}`;
  }

  private async listen(): Promise<void> {
    this.sub.on('message', (channel: string, payload: string) => {
      if (channel === this.channel) this.hear(payload);
    });
    await this.sub.subscribe(this.channel);
    let readyOnce = false;
    this.sub.on('ready', () => {
      // The first 'ready' may come before or after subscribe resolves; every later one is a reconnection.
      if (!readyOnce) {
        readyOnce = true;
        return;
      }
      // ioredis re-subscribes on 'ready'; the catch-up runs after, whatever was lost meanwhile.
      setImmediate(() => {
        for (const l of [...this.reconnectListeners]) l();
      });
    });
    if (this.sub.status === 'ready') readyOnce = true;
  }

  async publish(event: BusEvent): Promise<void> {
    if (this.closed) throw new Error('the bus is closed');
    // The message itself stays home: other nodes read it from the store.
    const e = event.type === 'message_stored' ? { type: event.type, messageId: event.messageId, institution: event.institution } : event;
    const envelope: Envelope = { o: this.nodeId, e };
    await this.pub.publish(this.channel, JSON.stringify(envelope));
  }

  subscribe(listener: BusListener): () => void {
    const entry: BusListener = (event, meta) => listener(event, meta);
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  onReconnect(listener: () => void): () => void {
    const entry = (): void => listener();
    this.reconnectListeners.add(entry);
    return () => this.reconnectListeners.delete(entry);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.reconnectListeners.clear();
    await Promise.all([this.pub.quit().catch(() => this.pub.disconnect()), this.sub.quit().catch(() => this.sub.disconnect())]);
  }

  private hear(payload: string): void {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload) as Envelope;
    } catch {
      return; // not ours
    }
    for (const listener of [...this.listeners]) {
      try {
        listener(envelope.e, { origin: envelope.o });
      } catch (err) {
        this.onListenerError(err, envelope.e);
      }
    }
  }
}

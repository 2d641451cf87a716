/**
 * The bus on Redis pub/sub: one channel per cluster, one connection to publish (so a node's events
 * keep their order) and one to listen. Redis pub/sub drops what is published while a listener is
 * disconnected: ioredis re-subscribes after reconnecting, and then the onReconnect listeners run so
 * the node catches up from the store (events are wake-ups, never the only copy).
 */
import type { Redis } from 'ioredis';
import { bodyForPreview } from '../../protocol/index.js';
import type { Bus, BusEvent, BusListener } from '../../core/ports/bus.js';
import type { Message } from '../../core/ports/store.js';
import { DEFAULT_PREFIX, REDIS_COMMAND_TIMEOUT_MS, connectRedis, unreachableOr, type RedisAdapterOptions } from './connection.js';
import { BusUnreachable } from '../../core/ports/unreachable.js';

/**
 * A stored message with at most this many recipients rides along with its wake-up (its body cut to
 * what a popup shows), so the nodes that hear it push its popups without reading it from the store.
 */
export const CARRIED_RECIPIENTS_MAX = 64;

/**
 * A larger audience (a broadcast, a big channel) that nobody has had yet rides along too, as its
 * recipient ids grouped by route (RouteIds: about 6 bytes a recipient, 300 KB for 51,000), up to
 * this many; beyond it, or once some recipient has a state, it travels as its id and each node
 * reads the recipients it holds from the store.
 */
export const CARRIED_IDS_MAX = 200_000;

/** Recipient ids by the route that reached them ('' for named directly): a large audience on the wire. */
type RouteIds = Record<string, number[]>;

/**
 * How many of its own stored messages a node keeps until it hears them back (see RedisBus.ownStored);
 * one whose wake-up is lost is dropped when more than this many came after it.
 */
export const OWN_STORED_KEPT = 32;

/**
 * After a reconnection, events heard while the node catches up from the store wait for it, so a
 * member gets what was missed before what came after (a popup sent while Redis was down before
 * one sent once it was back). At most this many wait, for at most RECONNECT_HOLD_MAX_MS; past
 * either, events flow again (what was missed then comes at the next periodic catch-up), and events
 * beyond the count are dropped: every one is a wake-up or notice whose content is in the store.
 */
export const RECONNECT_HOLD_MAX_EVENTS = 10_000;
export const RECONNECT_HOLD_MAX_MS = 10_000;

interface Envelope {
  o: string;
  e: BusEvent;
  /** A message_stored event its node kept whole (RedisBus.ownStored): the key it kept it under. */
  k?: number;
  /** The recipients of the carried message of a large audience (its `recipients` travel empty). */
  r?: RouteIds;
}

export class RedisBus implements Bus {
  private readonly listeners = new Set<BusListener>();
  private readonly reconnectListeners = new Set<() => void | Promise<unknown>>();
  /** Payloads heard while the reconnect listeners catch up (RECONNECT_HOLD_MAX_*), or null. */
  private held: string[] | null = null;
  /** Which reconnection the hold is for: a later one extends it. */
  private holdGeneration = 0;
  private readonly channel: string;
  private closed = false;
  /**
   * The messages this node published without their recipients (a large audience), by id, until it
   * hears them back: its own delivery then has the whole message (the takers connected here, and
   * the marks its commit wrote for members who left since) without reading every recipient's row
   * from the store. Keyed by a number of this node's own (the envelope's `k`), so an id published
   * twice is told apart. At most OWN_STORED_KEPT; what is not found here is read from the store.
   */
  private readonly ownStored = new Map<number, BusEvent>();
  private ownKeys = 0;

  private constructor(
    readonly nodeId: string,
    private readonly pub: Redis,
    /** @internal the listening connection (tests cut it to check reconnection) */
    readonly sub: Redis,
    prefix: string,
    private readonly onListenerError: (err: unknown, event: BusEvent) => void,
  ) {
    this.channel = RedisBus.channelName(prefix, pub.options.db ?? 0);
  }

  /**
   * The cluster's channel. Redis pub/sub ignores the selected database (a channel is one for the
   * whole server), so clusters kept apart by database number would hear each other's events: a
   * database other than 0 is part of the name (0 keeps the name it always had).
   */
  static channelName(prefix: string, db: number): string {
    return db === 0 ? `${prefix}bus` : `${prefix}db${db}:bus`;
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
      throw new Error(`Redis (--bus) did not answer within ${REDIS_COMMAND_TIMEOUT_MS / 1000} s: ${err instanceof Error ? err.message : String(err)}`);
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
      // ioredis has re-subscribed by now (it writes SUBSCRIBE before 'ready' is emitted); what is
      // heard from here waits for the catch-up, which runs after, whatever was lost meanwhile.
      this.held ??= [];
      const generation = ++this.holdGeneration;
      setImmediate(() => {
        const catchUps = [...this.reconnectListeners].map((l) => {
          try {
            return l();
          } catch {
            return undefined; // the listener reports its own errors
          }
        });
        let timer: NodeJS.Timeout | undefined;
        const bounded = new Promise<void>((resolve) => { timer = setTimeout(resolve, RECONNECT_HOLD_MAX_MS); timer.unref(); });
        void Promise.race([Promise.allSettled(catchUps), bounded]).then(() => {
          clearTimeout(timer);
          if (generation === this.holdGeneration) this.release();
        });
      });
    });
    if (this.sub.status === 'ready') readyOnce = true;
  }

  /**
   * Publishes through Redis (this node hears its own event back from Redis, in order with the
   * others). Redis unreachable: nothing is queued; this node's listeners hear the event at once, so
   * its own connections are served, and publish rejects with BusUnreachable (the other nodes catch
   * up from the store when they reconnect). Should the event have reached Redis after all (a command
   * that timed out), this node hears it twice: every event is safe to hear twice (popups are
   * deduplicated by id, a closed session stays closed).
   */
  async publish(event: BusEvent): Promise<void> {
    if (this.closed) throw new Error('the bus is closed');
    const { e, r } = event.type === 'message_stored' ? storedForTheBus(event) : { e: event, r: undefined };
    // Kept before publishing: the listening connection may hear it before the publish is answered.
    const kept = e.type === 'message_stored' && event.type === 'message_stored' && !e.message && event.message ? this.keepOwn(event) : null;
    const envelope: Envelope = { o: this.nodeId, e };
    if (kept !== null) envelope.k = kept;
    if (r) envelope.r = r;
    const payload = JSON.stringify(envelope);
    try {
      await this.pub.publish(this.channel, payload);
    } catch (err) {
      const failure = unreachableOr(err);
      // Heard here all the same (its own kept message whole); otherwise what was kept for it goes.
      if (failure instanceof BusUnreachable) this.hear(payload);
      else if (kept !== null) this.ownStored.delete(kept);
      throw failure;
    }
  }

  private keepOwn(event: BusEvent): number {
    const key = ++this.ownKeys;
    this.ownStored.set(key, event);
    if (this.ownStored.size > OWN_STORED_KEPT) this.ownStored.delete(this.ownStored.keys().next().value!);
    return key;
  }

  /**
   * The event as its listeners get it: a large audience's recipients put back from their ids; one of
   * this node's own messages heard back whole, as published, if kept.
   */
  private wholeEvent(envelope: Envelope): BusEvent {
    if (envelope.r && envelope.e.type === 'message_stored' && envelope.e.message) {
      return { ...envelope.e, message: { ...envelope.e.message, recipients: recipientsFrom(envelope.r) } };
    }
    if (envelope.o !== this.nodeId || envelope.k === undefined) return envelope.e;
    const own = this.ownStored.get(envelope.k);
    if (!own) return envelope.e;
    this.ownStored.delete(envelope.k);
    return own;
  }

  subscribe(listener: BusListener): () => void {
    const entry: BusListener = (event, meta) => listener(event, meta);
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  onReconnect(listener: () => void | Promise<unknown>): () => void {
    const entry = (): void | Promise<unknown> => listener();
    this.reconnectListeners.add(entry);
    return () => this.reconnectListeners.delete(entry);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.reconnectListeners.clear();
    this.ownStored.clear();
    this.held = null;
    await Promise.all([this.pub.quit().catch(() => this.pub.disconnect()), this.sub.quit().catch(() => this.sub.disconnect())]);
  }

  /** The catch-up after a reconnection settled: what was heard meanwhile goes out, in order. */
  private release(): void {
    const held = this.held ?? [];
    this.held = null;
    for (const payload of held) this.hear(payload);
  }

  private hear(payload: string): void {
    if (this.held) {
      if (this.held.length < RECONNECT_HOLD_MAX_EVENTS) this.held.push(payload);
      return;
    }
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload) as Envelope;
    } catch {
      return; // not ours
    }
    const event = this.wholeEvent(envelope);
    for (const listener of [...this.listeners]) {
      try {
        listener(event, { origin: envelope.o });
      } catch (err) {
        this.onListenerError(err, event);
      }
    }
  }
}

/**
 * A message_stored event as it travels. Every node used to read each message from the store (the
 * message, its recipients, attachments and alert: four queries) whether or not it held any of the
 * recipients; under cross-node traffic that was four reads per message on every node, and the
 * nodes' connection pools, not PostgreSQL or their CPU, set the rate at which popups went out
 * (bench/README.md, scenario 10). So a message with few recipients travels with its wake-up: its
 * recipients (who holds none of them does nothing), and what its popup shows (the body only as far
 * as the preview reads it). The store keeps the message; the wake-up is still not the only copy
 * (the catch-up and the login replay read the store).
 *
 * A larger audience that nobody has had yet (a broadcast just stored) rides along as its ids by
 * route (CARRIED_IDS_MAX): under a broadcast to 21,000 on three nodes, each node reading its 7,000
 * recipients from the store, batch by batch, while the storing node wrote their rows, put the
 * store between the OK and most popups (bench/README.md, scenario 10). Otherwise it travels as its id.
 */
function storedForTheBus(event: Extract<BusEvent, { type: 'message_stored' }>): { e: BusEvent; r?: RouteIds } {
  const { message, alert } = event;
  const bare = { type: event.type, messageId: event.messageId, institution: event.institution };
  // Without the alert (undefined: not known), a node would read it anyway.
  if (!message || alert === undefined) return { e: bare };
  const carried: Message = { ...message, body: bodyForPreview(message.body) };
  if (message.recipients.length <= CARRIED_RECIPIENTS_MAX) return { e: { ...bare, message: carried, alert } };
  const fresh = message.recipients.length <= CARRIED_IDS_MAX && message.recipients.every((r) => r.deliveredAt === null && r.readAt === null);
  if (!fresh) return { e: bare };
  return { e: { ...bare, message: { ...carried, recipients: [] }, alert }, r: routeIds(message) };
}

function routeIds(message: Message): RouteIds {
  const routes: RouteIds = {};
  for (const r of message.recipients) (routes[r.via ?? ''] ??= []).push(r.userId);
  return routes;
}

/** A large audience's recipients as they were published: nobody has had the message yet. */
function recipientsFrom(routes: RouteIds): Message['recipients'] {
  const recipients: Message['recipients'] = [];
  for (const [via, ids] of Object.entries(routes)) {
    for (const userId of ids) recipients.push({ userId, username: '', deliveredAt: null, readAt: null, via: via === '' ? null : via });
  }
  return recipients;
}


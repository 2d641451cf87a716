import { encodePush, popupToArgs, previewOf, type ArgInput } from '../protocol/index.js';
import type { Connection } from './connection.js';
import type { Logger } from 'pino';
import type { LocalConnections } from './local-connections.js';
import type { TrafficStats } from './stats.js';
import type { Bus, BusEvent, Delivered } from '../core/ports/bus.js';
import type { Message, MessageAlert, Store } from '../core/ports/store.js';
import { isExpired, popupAlert } from './alerts.js';

/**
 * Real-time popups and store-and-forward. A message is stored first, and the handler answers; then
 * it publishes *message stored* on the bus (publishStored), and every node's delivery, subscribed
 * to the bus (DeliverySubscriber), pushes a POPUP to each recipient's connections held there and
 * marks those recipients delivered, in one write per message. Recipients who were offline get
 * theirs at their next login (replayPending). Popups are at least once; clients show an id once.
 *
 * A capability of the in-process setup, not part of the store contract: a recipient online on this
 * node when the message is stored is written delivered in the storing transaction
 * (the store's deliveredAtCommit capability), since its popup follows the commit in the same turn of the event loop: that
 * saves a second write per message. Should its push then fail (it logged out or its socket closed
 * during the commit), the node that stored it takes the mark back and the popup waits for the next
 * login.
 */
export function popupArgs(message: Message, institution: string, via: string | null, alert: MessageAlert | null, reminder?: number): ArgInput {
  return popupToArgs({
    ...popupAlert(alert),
    ...(reminder ? { reminder } : {}),
    id: message.id,
    from: message.sender,
    institution,
    subject: message.subject,
    preview: previewOf(message.body),
    sentAt: message.sentAt,
    attachments: message.attachments.map((a) => a.name),
    via: via ?? '',
  });
}

/** The POPUP frame as bytes, line feed included, ready to be written to any number of sockets. */
export function encodePopup(message: Message, institution: string, via: string | null = null, alert: MessageAlert | null = null): Buffer {
  return Buffer.from(`${encodePush('POPUP', popupArgs(message, institution, via, alert))}\n`);
}

/**
 * A message's POPUP frames by route, each encoded once: a broadcast writes the same bytes to every
 * socket, and recipients reached through a channel or group are told which (issue #4).
 */
function popupFrames(message: Message, institution: string, alert: MessageAlert | null): (via: string | null) => Buffer {
  const frames = new Map<string, Buffer>();
  return (via) => {
    const key = via ?? '';
    let f = frames.get(key);
    if (!f) frames.set(key, (f = encodePopup(message, institution, via, alert)));
    return f;
  };
}

/** What delivery on one node uses. */
export interface DeliveryDeps {
  store: Store;
  local: LocalConnections;
  stats: TrafficStats;
}

/**
 * Pushes a stored message's popups to the recipients connected to this node and records them
 * delivered; `storedHere` when this node stored it (only then does it know which marks its commit
 * wrote). Returns how many popups it pushed.
 */
export async function deliverMessage(
  deps: DeliveryDeps, message: Message, institution: string, storedHere = true, alert?: MessageAlert | null,
): Promise<number> {
  // The alert row (issue 21): null when the message has none; undefined when the caller does not
  // know (a message heard from another node, or whose last attachment just arrived), so it is read.
  if (alert === undefined) alert = (await deps.store.alertsOf([message.id])).get(message.id) ?? null;
  const frameFor = popupFrames(message, institution, alert);
  const delivered: number[] = [];
  const notPushed: number[] = [];
  let pushed = 0;
  for (const r of message.recipients) {
    if (deps.local.pushPopup(r.userId, message.id, frameFor(r.via ?? null)) > 0) {
      deps.stats.popupDelivered();
      pushed++;
      if (!r.deliveredAt) delivered.push(r.userId);
    } else if (r.deliveredAt && storedHere) {
      notPushed.push(r.userId);
    }
  }
  // Every popup is written first; then one call each fixes the marks the commit could not know.
  if (delivered.length > 0) await deps.store.markDeliveredMany(message.id, delivered);
  if (notPushed.length > 0) await deps.store.markUndelivered(message.id, notPushed);
  return pushed;
}

/** For the store's deliveredAtCommit capability: recipients whose popup this node's delivery will push after the commit. */
export function pushableRecipients(local: LocalConnections): (recipientId: number) => boolean {
  return (recipientId) => local.acceptsPopups(recipientId);
}

/** After the commit and the OK: tells every node that the message is out, so each delivers its popups. */
export function publishStored(
  services: { bus: Bus; stats: TrafficStats; log: Logger }, message: Message, institution: string, alert?: MessageAlert | null,
): void {
  services.stats.messageStored();
  services.bus.publish({ type: 'message_stored', messageId: message.id, institution, message, alert })
    .catch((err: unknown) => services.log.error({ err, messageId: message.id }, 'could not publish a stored message; its popups wait for the next login'));
}

/** One node's delivery: hears *message stored* on the bus and pushes to the connections held here. */
export class DeliverySubscriber {
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly deps: DeliveryDeps & { bus: Bus; onError: (err: unknown, messageId: number) => void }) {}

  start(): void {
    this.unsubscribe ??= this.deps.bus.subscribe((event, meta) => this.hear(event, meta));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private hear(event: BusEvent, meta: Delivered): void {
    if (event.type !== 'message_stored') return;
    const storedHere = meta.origin === this.deps.bus.nodeId;
    // The message rides along in process (and on Redis when it has few recipients): its popups leave in this very turn; otherwise it is read.
    const work = event.message
      ? deliverMessage(this.deps, event.message, event.institution, storedHere, event.alert)
      : this.deps.store.getMessage(event.messageId).then((m) => m && deliverMessage(this.deps, m, event.institution, storedHere));
    work.catch((err: unknown) => this.deps.onError(err, event.messageId));
  }
}

/** How many owed popups one catch-up tick pushes at most (the rest follow at the next ticks). */
export const CATCH_UP_BATCH = 1000;
/** How many members one store query of a tick names. */
const CATCH_UP_MEMBERS_PER_QUERY = 1000;

/**
 * The periodic catch-up (issue 19): a wake-up on the bus can be lost (Redis pub/sub drops what it
 * cannot deliver, a publish can fail), so every `intervalMs` each node asks the store which popups
 * the members connected to it have not had, and pushes them as the wake-up would have (oldest first,
 * at most CATCH_UP_BATCH a tick), marking them delivered. A lost wake-up delays a popup by at most
 * the interval and never loses it; a connection shows each id once, so a tick that races the
 * wake-up pushes nothing twice.
 */
export class PeriodicCatchUp {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  /** Where the next tick starts in the list of members, so a long list is not always read from its head. */
  private offset = 0;

  constructor(private readonly deps: DeliveryDeps & { intervalMs: number; batch?: number; onError: (err: unknown) => void }) {}

  start(): void {
    if (this.timer || this.deps.intervalMs <= 0) return;
    this.timer = setInterval(() => { void this.tick(); }, this.deps.intervalMs);
    this.timer.unref();
  }

  /** No more ticks; resolves once one under way has settled. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  /** One pass (one at a time: a tick still running is joined, not doubled); resolves to the popups pushed. */
  tick(): Promise<number> {
    this.running ??= this.pass().catch((err: unknown) => { this.deps.onError(err); return 0; }).finally(() => { this.running = null; });
    return this.running;
  }

  private async pass(): Promise<number> {
    const { store, local, stats } = this.deps;
    const takers = local.popupTakers();
    if (takers.length === 0) return 0;
    const start = this.offset % takers.length;
    const ordered = [...takers.slice(start), ...takers.slice(0, start)];
    let budget = this.deps.batch ?? CATCH_UP_BATCH;
    const owed = new Map<number, number[]>();
    for (let i = 0; i < ordered.length && budget > 0; i += CATCH_UP_MEMBERS_PER_QUERY) {
      const found = await store.undeliveredAmong(ordered.slice(i, i + CATCH_UP_MEMBERS_PER_QUERY), budget);
      budget -= found.length;
      for (const { messageId, recipientId } of found) {
        let list = owed.get(messageId);
        if (!list) owed.set(messageId, (list = []));
        list.push(recipientId);
      }
      if (budget <= 0) this.offset = start + i + CATCH_UP_MEMBERS_PER_QUERY;
    }
    if (owed.size === 0) return 0;
    const ids = [...owed.keys()].sort((a, b) => a - b);
    const alerts = await store.alertsOf(ids);
    const institutions = new Map<number, string>();
    let pushed = 0;
    for (const id of ids) {
      const message = await store.getMessage(id);
      if (!message) continue;
      let institution = institutions.get(message.senderId);
      if (institution === undefined) {
        institution = (await store.getUserById(message.senderId))?.institution ?? '';
        institutions.set(message.senderId, institution);
      }
      const frameFor = popupFrames(message, institution, alerts.get(id) ?? null);
      const via = new Map(message.recipients.map((r) => [r.userId, r.via ?? null]));
      const delivered: number[] = [];
      for (const userId of owed.get(id)!) {
        if (local.pushPopup(userId, id, frameFor(via.get(userId) ?? null)) > 0) {
          stats.popupDelivered();
          delivered.push(userId);
          pushed++;
        } else if (!local.acceptsPopups(userId)) {
          continue; // gone meanwhile: at its next login
        } else {
          delivered.push(userId); // this connection had it already (the wake-up won the race)
        }
      }
      if (delivered.length > 0) await store.markDeliveredMany(id, delivered);
    }
    return pushed;
  }
}

/** Pushes the popups a member missed while offline, oldest first, to the connection that just logged in. */
export async function replayPending(services: { store: Store; stats: TrafficStats; config: { maxPopupsAtLogin: number } }, conn: Connection): Promise<number> {
  const user = conn.user;
  if (!user) return 0;
  const pending = await services.store.listUndelivered(user.userId, services.config.maxPopupsAtLogin);
  const alerts = await services.store.alertsOf(pending.map((m) => m.id));
  const institutions = new Map<number, string>();
  let n = 0;
  for (const message of pending) {
    let institution = institutions.get(message.senderId);
    if (institution === undefined) {
      institution = (await services.store.getUserById(message.senderId))?.institution ?? '';
      institutions.set(message.senderId, institution);
    }
    const via = message.recipients.find((r) => r.userId === user.userId)?.via ?? null;
    if (conn.pushPopup(message.id, encodePopup(message, institution, via, alerts.get(message.id) ?? null))) {
      services.stats.popupDelivered();
      await services.store.markDelivered(message.id, user.userId);
      n++;
    }
  }
  return n + (await replayReminders(services, conn));
}

/**
 * The reminders owed to a member that was offline when REMIND ran (issue 21): each popup again,
 * marked `reminder=N`, unless it has acknowledged since or the message was recalled or expired.
 */
async function replayReminders(services: { store: Store; config: { maxPopupsAtLogin: number } }, conn: Connection): Promise<number> {
  const user = conn.user!;
  const due = await services.store.takeDueReminders(user.userId, services.config.maxPopupsAtLogin);
  if (due.length === 0) return 0;
  const ids = due.map((d) => d.messageId);
  const [alerts, acks] = await Promise.all([services.store.alertsOf(ids), services.store.acksOf(ids)]);
  let n = 0;
  for (const { messageId, reminder } of due) {
    const alert = alerts.get(messageId);
    if (!alert || alert.recalledAt || isExpired(alert) || acks.get(messageId)?.has(user.userId)) continue;
    const message = await services.store.getMessage(messageId);
    if (!message) continue;
    const institution = (await services.store.getUserById(message.senderId))?.institution ?? '';
    const via = message.recipients.find((r) => r.userId === user.userId)?.via ?? null;
    if (conn.push('POPUP', popupArgs(message, institution, via, alert, reminder))) n++;
  }
  return n;
}

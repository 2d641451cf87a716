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
  // Encoded once per message, not per recipient: a broadcast writes the same bytes to every socket.
  const frame = encodePopup(message, institution, null, alert);
  // Recipients reached through a channel or group are told which (issue #4): one frame per route.
  const routed = new Map<string, Buffer>();
  const frameFor = (via: string): Buffer => {
    let f = routed.get(via);
    if (!f) routed.set(via, (f = encodePopup(message, institution, via, alert)));
    return f;
  };
  const delivered: number[] = [];
  const notPushed: number[] = [];
  let pushed = 0;
  for (const r of message.recipients) {
    if (deps.local.pushPopup(r.userId, message.id, r.via ? frameFor(r.via) : frame) > 0) {
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
    // In process the message rides along, and its popups leave in this very turn; otherwise it is read.
    const work = event.message
      ? deliverMessage(this.deps, event.message, event.institution, storedHere, event.alert)
      : this.deps.store.getMessage(event.messageId).then((m) => m && deliverMessage(this.deps, m, event.institution, storedHere));
    work.catch((err: unknown) => this.deps.onError(err, event.messageId));
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

import { encodePush, popupToArgs, previewOf, type ArgInput } from '../protocol/index.js';
import type { Connection } from './connection.js';
import type { Logger } from 'pino';
import type { LocalConnections } from './local-connections.js';
import type { TrafficStats } from './stats.js';
import type { Bus } from '../core/ports/bus.js';
import type { PopupConnection, PopupOutlet } from '../core/ports/popups.js';
import type { MessageAlert } from '../core/ports/store/alerts.js';
import type { Message } from '../core/ports/store/messages.js';
import { replayPending as replay, type ReplayPorts } from '../core/services/delivery.js';
import { popupAlert } from './alerts.js';
import { BusUnreachable } from '../core/ports/unreachable.js';
import { degradedLog } from './logger.js';

/**
 * Popups on the wire: the POPUP frames, and the popup port (src/core/ports/popups.ts) over this
 * node's connections. Who gets which popup, when, and the delivered marks are delivery's rules, in
 * src/core/services/delivery.ts (DeliverySubscriber, PeriodicCatchUp, replayPending): this module
 * encodes and writes what it decides, and publishes *message stored* after SEND's OK.
 */

/** A popup's arguments: the message's notice (sender, institution, subject, preview), its route and alert fields. */
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

/**
 * The popup port over this node's connections: each message's frame is encoded once per route,
 * then written to every connection of each recipient held here.
 */
export function popupOutlet(local: LocalConnections): PopupOutlet {
  return {
    popupsOf(message, institution, alert) {
      const frameFor = popupFrames(message, institution, alert);
      return { push: (userId, via) => local.pushPopup(userId, message.id, frameFor(via)) };
    },
    acceptsPopups: (userId) => local.acceptsPopups(userId),
    popupTakers: () => local.popupTakers(),
  };
}

/** One logged-in connection as the login replay's target (popups once per id; reminders again, as pushes). */
export function popupConnection(conn: Connection, userId: number): PopupConnection {
  return {
    userId,
    pushPopup: (message, institution, via, alert) => conn.pushPopup(message.id, encodePopup(message, institution, via, alert)),
    pushReminder: (message, institution, via, alert, reminder) => conn.push('POPUP', popupArgs(message, institution, via, alert, reminder)),
  };
}

/** After the commit and the OK: tells every node that the message is out, so each delivers its popups. */
export function publishStored(
  services: { bus: Bus; stats: TrafficStats; log: Logger }, message: Message, institution: string, alert?: MessageAlert | null,
): void {
  services.stats.messageStored();
  services.bus.publish({ type: 'message_stored', messageId: message.id, institution, message, alert })
    .catch((err: unknown) => {
      // Redis unreachable: this node's recipients had their popups (RedisBus.publish), the other
      // nodes' get theirs from their periodic catch-up or at their next login.
      if (err instanceof BusUnreachable) unpublished(services.log)(err, 'popups went to this node\'s recipients; the other nodes push theirs at their next catch-up (--catch-up-interval)');
      else services.log.error({ err, messageId: message.id }, 'could not publish a stored message; its popups wait for the next catch-up or login');
    });
}

/** One rate-limited log line per logger for messages the bus could not carry. */
const unpublishedLogs = new WeakMap<Logger, (err: Error, meaning: string) => void>();
function unpublished(log: Logger): (err: Error, meaning: string) => void {
  let warn = unpublishedLogs.get(log);
  if (!warn) unpublishedLogs.set(log, (warn = degradedLog(log)));
  return warn;
}

/** Pushes the popups (and reminders) a member missed while offline to the connection that just logged in (core/services/delivery.ts). */
export async function replayPending(
  services: { store: ReplayPorts['store']; stats: TrafficStats; config: { maxPopupsAtLogin: number } }, conn: Connection,
): Promise<number> {
  const user = conn.user;
  if (!user) return 0;
  return replay({ store: services.store, counters: services.stats, maxPopupsAtLogin: services.config.maxPopupsAtLogin }, popupConnection(conn, user.userId));
}

import { encodePush, popupToArgs, previewOf, type ArgInput } from '../protocol/index.js';
import type { Connection } from './connection.js';
import type { Services } from './commands/types.js';
import type { Message, MessageAlert } from '../core/ports/store.js';
import { isExpired, popupAlert } from './alerts.js';

/**
 * Real-time popups and store-and-forward. A message is stored first; then every online session of
 * each recipient gets a POPUP push, and the recipient's row is marked delivered. Recipients who
 * were offline get theirs at their next login (replayPending).
 *
 * A recipient online when the message is stored is written delivered in the storing transaction
 * (pushedAfterCommit), since its popup follows the commit in the same turn of the event loop: that
 * saves a second write per message. Should its push then fail (it logged out or its socket closed
 * during the commit), the mark is taken back and the popup waits for its next login.
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
 * `alert`: the message's alert row (null: it has none); undefined when the caller does not know,
 * and it is read (a message whose last attachment just arrived).
 */
export async function deliverMessage(services: Services, message: Message, institution: string, alert?: MessageAlert | null): Promise<number> {
  if (alert === undefined) alert = (await services.store.alertsOf([message.id])).get(message.id) ?? null;
  // Encoded once per message, not per recipient: a broadcast writes the same bytes to every socket.
  const frame = encodePopup(message, institution, null, alert);
  // Recipients reached through a channel or group are told which (issue #4): one frame per route.
  const routed = new Map<string, Buffer>();
  const frameFor = (via: string): Buffer => {
    let f = routed.get(via);
    if (!f) routed.set(via, (f = encodePopup(message, institution, via, alert)));
    return f;
  };
  services.stats.messageStored();
  const delivered: number[] = [];
  const notPushed: number[] = [];
  let pushed = 0;
  for (const r of message.recipients) {
    if (services.router.pushPopup(r.userId, message.id, r.via ? frameFor(r.via) : frame) > 0) {
      services.stats.popupDelivered();
      pushed++;
      if (!r.deliveredAt) delivered.push(r.userId);
    } else if (r.deliveredAt) {
      notPushed.push(r.userId);
    }
  }
  // Every popup is written first; then one call each fixes the marks the commit could not know.
  if (delivered.length > 0) await services.store.markDeliveredMany(message.id, delivered);
  if (notPushed.length > 0) await services.store.markUndelivered(message.id, notPushed);
  return pushed;
}

/** For NewMessage.pushedAfterCommit: recipients whose popup deliverMessage will push after the commit. */
export function pushableRecipients(services: Services): (recipientId: number) => boolean {
  return (recipientId) => services.router.acceptsPopups(recipientId);
}

/** Pushes the popups a member missed while offline, oldest first, to the connection that just logged in. */
export async function replayPending(services: Services, conn: Connection): Promise<number> {
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
async function replayReminders(services: Services, conn: Connection): Promise<number> {
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

/**
 * Delivery, the rules and the bookkeeping (issue 18 item 5): which recipients get a popup, which
 * messages pop up no more, the delivered marks (one write per message), the replay at login, the
 * periodic catch-up, and taking back a mark the storing transaction wrote when its push then
 * failed. It depends on ports only: the store, the bus, and this node's connections as a
 * PopupOutlet (src/core/ports/popups.ts); src/server/delivery.ts implements that port (it encodes
 * the POPUP frames and writes them) and publishes *message stored* after SEND's OK.
 *
 * A message is stored first, and the handler answers; then *message stored* is published on the
 * bus, and every node's DeliverySubscriber pushes a popup to each recipient connected there and
 * marks those recipients delivered. Recipients who were offline get theirs at their next login
 * (replayPending). Popups are at least once; a connection shows an id once.
 *
 * A capability of some stores, not part of the store contract: a recipient online on this node
 * when the message is stored is written delivered in the storing transaction (deliveredAtCommit,
 * asked through pushableRecipients), since its popup follows the commit in the same turn of the
 * event loop: that saves a second write per message. Should its push then fail (it logged out or
 * its socket closed during the commit), the node that stored it takes the mark back and the popup
 * waits for the next login.
 *
 * A message to a large audience (more than AUDIENCE_SNAPSHOT_ABOVE recipients) is committed with an
 * audience snapshot instead of recipient rows: the node that stored it pushes its popups first and
 * then writes every recipient row in one batch, those it pushed delivered (materialiseRecipients);
 * a node that heard it with its recipients records its marks through the same call.
 */
import type { Bus, BusEvent, Delivered } from '../ports/bus.js';
import type { DeliveryCounters, PopupConnection, PopupOutlet } from '../ports/popups.js';
import type { AccountStore } from '../ports/store/accounts.js';
import type { AlertStore, MessageAlert } from '../ports/store/alerts.js';
import type { Message, MessageStore } from '../ports/store/messages.js';
import { isExpired } from './alerts.js';

/** What delivery reads and writes in the store. */
export type DeliveryStore =
  & Pick<MessageStore, 'getMessage' | 'getMessageFor' | 'markDelivered' | 'markDeliveredMany' | 'markUndelivered' | 'materialiseRecipients' | 'listUndelivered' | 'undeliveredAmong'>
  & Pick<AlertStore, 'alertsOf' | 'acksOf' | 'takeDueReminders'>
  & Pick<AccountStore, 'getUserById'>;

/** What delivery on one node uses. */
export interface DeliveryPorts {
  store: DeliveryStore;
  /** This node's connections. */
  outlet: PopupOutlet;
  counters: DeliveryCounters;
}

/**
 * Pushes a stored message's popups to the recipients connected to this node and records them
 * delivered; `storedHere` when this node stored it (only then does it know which marks its commit
 * wrote). Returns how many popups it pushed.
 */
export async function deliverMessage(
  ports: DeliveryPorts, message: Message, institution: string, storedHere = true, alert?: MessageAlert | null,
): Promise<number> {
  // The alert row (issue 21): null when the message has none; undefined when the caller does not
  // know (a message heard from another node, or whose last attachment just arrived), so it is read.
  if (alert === undefined) alert = (await ports.store.alertsOf([message.id])).get(message.id) ?? null;
  // Heard from another node, perhaps late: recalled or expired meanwhile, it pops up no more (as the
  // catch-up and the replay leave it out).
  if (!storedHere && alert && (alert.recalledAt || isExpired(alert))) return 0;
  const popups = ports.outlet.popupsOf(message, institution, alert);
  const delivered: number[] = [];
  const notPushed: number[] = [];
  let pushed = 0;
  for (const r of message.recipients) {
    if (popups.push(r.userId, r.via ?? null) > 0) {
      ports.counters.popupDelivered();
      pushed++;
      if (!r.deliveredAt) delivered.push(r.userId);
    } else if (r.deliveredAt && storedHere) {
      notPushed.push(r.userId);
    }
  }
  // Every popup is written first. A large audience's commit wrote a snapshot, not rows: the node that
  // stored it writes them now, in one batch, those it pushed delivered (AUDIENCE_SNAPSHOT_ABOVE). A
  // node that heard it with its recipients (the Redis bus carries a fresh broadcast's) records its
  // marks the same way, since the rows may not be written yet: whichever node comes first writes
  // them, with its marks, and the others add theirs (a plain mark would find no row, and be lost).
  if (message.recipientRowsPending) {
    await ports.store.materialiseRecipients(message.id, delivered);
    return pushed;
  }
  // Otherwise one call each fixes the marks the commit could not know.
  if (delivered.length > 0) await ports.store.markDeliveredMany(message.id, delivered);
  if (notPushed.length > 0) await ports.store.markUndelivered(message.id, notPushed);
  return pushed;
}

/** For the store's deliveredAtCommit capability: recipients whose popup this node's delivery will push after the commit. */
export function pushableRecipients(outlet: Pick<PopupOutlet, 'acceptsPopups'>): (recipientId: number) => boolean {
  return (recipientId) => outlet.acceptsPopups(recipientId);
}

/** One node's delivery: hears *message stored* on the bus and pushes to the connections held here. */
export class DeliverySubscriber {
  private unsubscribe: (() => void) | null = null;

  constructor(private readonly ports: DeliveryPorts & { bus: Bus; onError: (err: unknown, messageId: number) => void }) {}

  start(): void {
    this.unsubscribe ??= this.ports.bus.subscribe((event, meta) => this.hear(event, meta));
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
  }

  private hear(event: BusEvent, meta: Delivered): void {
    if (event.type !== 'message_stored') return;
    const storedHere = meta.origin === this.ports.bus.nodeId;
    // The message rides along in process (its popups leave in this very turn) and over Redis for a
    // small audience (the bus adapter decides); otherwise it is read from the store.
    const work = event.message
      ? deliverMessage(this.ports, event.message, event.institution, storedHere, event.alert)
      : this.read(event.messageId, storedHere).then((m) => m && deliverMessage(this.ports, m, event.institution, storedHere));
    work.catch((err: unknown) => this.ports.onError(err, event.messageId));
  }

  /**
   * A message heard without its recipients, with those this node may push to: the members
   * connected here (17,000 of a broadcast to 51,000 on one node of three, not all 51,000; the
   * store reads them in batches). The node that stored it reads every recipient: it must take back
   * the marks its commit wrote for members who left since, and those are connected here no more
   * (the Redis bus hands it its own message whole, so this happens only when the bus did not keep it).
   */
  private read(messageId: number, storedHere: boolean): Promise<Message | null> {
    const { store, outlet } = this.ports;
    if (storedHere) return store.getMessage(messageId);
    const takers = outlet.popupTakers();
    return takers.length === 0 ? Promise.resolve(null) : store.getMessageFor(messageId, takers);
  }
}

/** The institution each sender's popups name, read once per sender for one pass. */
function institutions(store: Pick<AccountStore, 'getUserById'>): (senderId: number) => Promise<string> {
  const known = new Map<number, string>();
  return async (senderId) => {
    let institution = known.get(senderId);
    if (institution === undefined) {
      institution = (await store.getUserById(senderId))?.institution ?? '';
      known.set(senderId, institution);
    }
    return institution;
  };
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

  constructor(private readonly ports: DeliveryPorts & { intervalMs: number; batch?: number; onError: (err: unknown) => void }) {}

  start(): void {
    if (this.timer || this.ports.intervalMs <= 0) return;
    this.timer = setInterval(() => { void this.tick(); }, this.ports.intervalMs);
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
    this.running ??= this.pass().catch((err: unknown) => { this.ports.onError(err); return 0; }).finally(() => { this.running = null; });
    return this.running;
  }

  private async pass(): Promise<number> {
    const { store, outlet, counters } = this.ports;
    const takers = outlet.popupTakers();
    if (takers.length === 0) return 0;
    const start = this.offset % takers.length;
    const ordered = [...takers.slice(start), ...takers.slice(0, start)];
    let budget = this.ports.batch ?? CATCH_UP_BATCH;
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
    const institutionOf = institutions(store);
    let pushed = 0;
    for (const id of ids) {
      const message = await store.getMessageFor(id, owed.get(id)!);
      if (!message) continue;
      const popups = outlet.popupsOf(message, await institutionOf(message.senderId), alerts.get(id) ?? null);
      const via = new Map(message.recipients.map((r) => [r.userId, r.via ?? null]));
      const delivered: number[] = [];
      for (const userId of owed.get(id)!) {
        if (popups.push(userId, via.get(userId) ?? null) > 0) {
          counters.popupDelivered();
          delivered.push(userId);
          pushed++;
        } else if (!outlet.acceptsPopups(userId)) {
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

/** What the replay at login uses: delivery's ports but the outlet (it writes to one connection), and its bound. */
export interface ReplayPorts {
  store: DeliveryStore;
  counters: DeliveryCounters;
  /** The most popups (and, apart, reminders) one login replays (--max-popups-at-login). */
  maxPopupsAtLogin: number;
}

/**
 * Pushes the popups a member missed while offline, oldest first, to the connection that just
 * logged in, each marked delivered once written; then the reminders owed to it. Returns how many
 * went out.
 */
export async function replayPending(ports: ReplayPorts, conn: PopupConnection): Promise<number> {
  const { store } = ports;
  const pending = await store.listUndelivered(conn.userId, ports.maxPopupsAtLogin);
  const alerts = await store.alertsOf(pending.map((m) => m.id));
  const institutionOf = institutions(store);
  let n = 0;
  for (const message of pending) {
    const institution = await institutionOf(message.senderId);
    const via = message.recipients.find((r) => r.userId === conn.userId)?.via ?? null;
    if (conn.pushPopup(message, institution, via, alerts.get(message.id) ?? null)) {
      ports.counters.popupDelivered();
      await store.markDelivered(message.id, conn.userId);
      n++;
    }
  }
  return n + (await replayReminders(ports, conn));
}

/**
 * The reminders owed to a member that was offline when REMIND ran (issue 21): each popup again,
 * marked `reminder=N`, unless it has acknowledged since or the message was recalled or expired.
 */
async function replayReminders(ports: ReplayPorts, conn: PopupConnection): Promise<number> {
  const { store } = ports;
  const due = await store.takeDueReminders(conn.userId, ports.maxPopupsAtLogin);
  if (due.length === 0) return 0;
  const ids = due.map((d) => d.messageId);
  const [alerts, acks] = await Promise.all([store.alertsOf(ids), store.acksOf(ids)]);
  let n = 0;
  for (const { messageId, reminder } of due) {
    const alert = alerts.get(messageId);
    if (!alert || alert.recalledAt || isExpired(alert) || acks.get(messageId)?.has(conn.userId)) continue;
    const message = await store.getMessageFor(messageId, [conn.userId]);
    if (!message) continue;
    const institution = (await store.getUserById(message.senderId))?.institution ?? '';
    const via = message.recipients.find((r) => r.userId === conn.userId)?.via ?? null;
    if (conn.pushReminder(message, institution, via, alert, reminder)) n++;
  }
  return n;
}

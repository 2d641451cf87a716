/**
 * The bus (issue 18): what one node tells every node, itself included, after a commit. Events are
 * wake-ups and notices, never the only copy of anything: what a lost event would have carried is
 * in the store, and a node catches up from it when the bus says it may have lost events
 * (onReconnect). Modelled on aedes's `mq`: publish, subscribe, one contract suite for every adapter
 * (test/contract/bus/).
 *
 * Contract:
 * - every subscriber of every node on the same bus receives each event published after it
 *   subscribed, its own node's included, once, and in publish order per publishing node;
 * - publish resolves once the event is handed to the bus (not when it is delivered); when the bus
 *   cannot be reached it rejects at once with BusUnreachable (./unreachable.ts) — nothing is queued —
 *   and this node's own subscribers have heard the event all the same (the other nodes catch up);
 * - a listener that throws does not stop the others (the adapter reports the error);
 * - after a reconnection (events may have been lost meanwhile) the onReconnect listeners run, so
 *   subscribers catch up from the store; events heard from then on are handed to the subscribers
 *   only once the promises those listeners return have settled (in order; a bounded number, for a
 *   bounded time), so what was missed reaches a member before what came after it.
 */
import type { ArgInput, ErrorCode } from '../../protocol/index.js';
import type { Message, MessageAlert } from './store.js';

/** Which of a member's sessions an event means. */
export type SessionSelector = { all: true } | { only: number } | { except: number };

export type BusEvent =
  /**
   * A message was committed and is out (its attachments, if any, uploaded): every node pushes its
   * popups to the recipients connected to it. `message` rides along on an in-process bus; another
   * bus may carry it (with `alert`), its body cut to what a popup shows (the Redis bus: up to
   * CARRIED_RECIPIENTS_MAX recipients, or a larger audience nobody has had yet as its recipient
   * ids), or else only the id, and subscribers read the message from the store.
   */
  | { type: 'message_stored'; messageId: number; institution: string; message?: Message; alert?: MessageAlert | null }
  /** A push to every connection of one member (READ, SENT, SEND_FAILED, SUBSCRIPTION…). */
  | { type: 'member_notice'; userId: number; event: string; args: ArgInput }
  /** A member's account changed (suspended, reactivated, password reset): caches forget it. */
  | { type: 'member_changed'; userId: number; change: string }
  /** A push to every administrator connection (REGISTRATION, DECIDED, MAIL, LOGIN_ALERT…). */
  | { type: 'admin_notice'; event: string; args: ArgInput }
  /**
   * Sessions of a member were closed: their connections are told why and closed. `decidedAt` (ms
   * since the epoch, when the store closed them) spares a connection that logged in after it on a
   * node that hears the event late; nodes' clocks are assumed close (NTP), as the throttle assumes.
   */
  | { type: 'session_closed'; userId: number; sessions: SessionSelector; code: ErrorCode; message: string; decidedAt?: number }
  /** A registration request was decided: the node holding its registrant's connection tells it. */
  | { type: 'registration_decided'; requestId: number; event: string; args: ArgInput };

export type BusEventType = BusEvent['type'];

export interface Delivered {
  /** The node that published the event. */
  origin: string;
}

export type BusListener = (event: BusEvent, meta: Delivered) => void;

export interface Bus {
  /** This node's name on the bus (unique among the nodes sharing it). */
  readonly nodeId: string;
  publish(event: BusEvent): Promise<void>;
  /** Listens to every event; returns the function that stops listening. */
  subscribe(listener: BusListener): () => void;
  /**
   * Runs after the bus reconnected (events may have been lost meanwhile); returns the function that
   * stops it. Events heard meanwhile wait until the promise it returns (its catch-up) has settled.
   */
  onReconnect(listener: () => void | Promise<unknown>): () => void;
  /** Stops listening and lets go of the connection; publish fails afterwards. */
  close(): Promise<void>;
}

/**
 * The popup port (issue 18 item 5): this node's control connections as delivery
 * (src/core/services/delivery.ts) sees them. Delivery decides who gets which popup and keeps the
 * delivered marks; the server (src/server/delivery.ts) implements this port over the connections
 * it holds, encodes the POPUP frames (each once per message and route) and writes them.
 */
import type { MessageAlert } from './store/alerts.js';
import type { Message } from './store/messages.js';

/** One message's popups, as delivery hands them out to the members connected here. */
export interface MessagePopups {
  /**
   * Pushes the popup, as it reached the member (`via`: through a channel or groups, or null), to
   * every connection of the member held here that takes popups and has not shown this id yet;
   * returns how many took it (0: none here, or every one had shown it already).
   */
  push(userId: number, via: string | null): number;
}

/** Where this node's popups go: the members' connections held here. */
export interface PopupOutlet {
  /** Begins one message's popups, naming its sender's institution and carrying its alert fields. */
  popupsOf(message: Message, institution: string, alert: MessageAlert | null): MessagePopups;
  /** Whether a connection held here would write a popup pushed to the member now (logged in for popups, open). */
  acceptsPopups(userId: number): boolean;
  /** The members with a connection here that takes popups now. */
  popupTakers(): number[];
}

/** One connection that has just logged in (or resumed, or may have missed wake-ups): the login replay's target. */
export interface PopupConnection {
  /** The member logged in on it. */
  readonly userId: number;
  /** Pushes the message's popup, once per connection; false when it showed this id before or could not write it. */
  pushPopup(message: Message, institution: string, via: string | null, alert: MessageAlert | null): boolean;
  /** Pushes a reminder of it (shown again, marked `reminder=N`); false when it could not be written. */
  pushReminder(message: Message, institution: string, via: string | null, alert: MessageAlert, reminder: number): boolean;
}

/** What delivery counts (the server's traffic statistics). */
export interface DeliveryCounters {
  /** One popup written to a member's connections. */
  popupDelivered(): void;
}

/**
 * The peer-connection port (issue 18 item 5): what the layers beside the server (src/transfer)
 * may know of a member's control connection. src/server/connection.ts implements it; the server
 * hands its connections over as this, so transfer/ never imports the server.
 */
import type { ArgInput } from '../../protocol/index.js';

export interface PeerConnection {
  /** The peer's address, normalized (address.ts): what a shadow listener expects to see again. */
  readonly remoteAddress: string;
  /** The address the peer reached us on: where a shadow listener opens unless one is configured. */
  readonly localAddress: string;
  /** Sends a push (docs/PROTOCOL.md §Pushes); false when the connection is gone or dropped it. */
  push(event: string, args?: ArgInput): boolean;
  /** Runs `listener` once the connection has closed (at once if it has already). */
  onClose(listener: () => void): void;
}

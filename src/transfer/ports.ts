/**
 * What the transfer service needs from the rest of the server (issue 18 item 5), as ports: the
 * composition root (src/server/server.ts) passes the concrete ones, so transfer/ depends only on
 * the protocol, the core and Node's built-ins (test/architecture/layers.test.ts).
 */
import type { Logger } from 'pino';
import type { ArgInput } from '../protocol/index.js';
import type { Message, RecallOutcome } from '../core/ports/store/messages.js';
import type { TransferBooks } from '../core/services/transfers.js';

/** The server options transfers read (src/server/options.ts; ServerConfig has them all). */
export interface TransferConfig {
  /** The control port's certificate and key: with TLS on, every shadow listener speaks TLS too. */
  tls: { cert: Buffer; key: Buffer } | null;
  host: string;
  transferHost: string | null;
  transferPorts: { from: number; to: number } | null;
  transferConnectTimeoutMs: number;
  transferIdleTimeoutMs: number;
  maxTransfersPerMember: number;
  maxTransfers: number;
  partialRetentionMs: number;
  transferSweepIntervalMs: number;
  minFreeDiskBytes: number;
}

export interface TransferDeps {
  config: TransferConfig;
  /** What the store decides about attachments (src/core/services/transfers.ts). */
  books: TransferBooks;
  log: Logger;
  /** Pushes to every session of a member (the sender hears SENT, EXPIRED, ...). */
  router: { pushToUser(userId: number, event: string, args: ArgInput): void };
  /**
   * The message's last attachment is in: its popups go out to the recipients (published on the bus:
   * src/server/delivery.ts). A correction first withdraws the message it replaced (`replaced`, the
   * recall its commit made): those who had it get `*|RECALLED`.
   */
  deliver(message: Message, institution: string, replaced: RecallOutcome | null): void;
}

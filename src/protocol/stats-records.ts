/**
 * What STATS reports (docs/PROTOCOL-admin.md): the server's running totals, one sample per minute,
 * and the transfers under way; the server counts them (src/server/stats.ts), clients decode them.
 */

/** A transfer under way; STATS sends each as `transfer=id,direction,bytes,size,user,name`. */
export interface TransferProgress {
  id: string;
  /** File name, when known. */
  name: string;
  /** 'up' = a client sends to the server, 'down' = the server sends to a client. */
  direction: string;
  bytes: number;
  /** Expected size; 0 when unknown. */
  size: number;
  /** Who transfers, when known. */
  user: string;
}

/** Running totals since the server started. */
export interface TrafficTotals {
  startedAt: string;
  messages: number;
  /** Messages sent with priority=urgent (issue 21). */
  urgent: number;
  popups: number;
  bytesIn: number;
  bytesOut: number;
  connectionsOpened: number;
  connectionsClosed: number;
  /** Connections open now (logged in or not). */
  connections: number;
  liveListeners: number;
  transfers: number;
  /** Event-loop lateness in the running minute so far, ms. */
  loopP50Ms: number;
  loopP99Ms: number;
  loopMaxMs: number;
  /** The worst event-loop lateness since the server started, ms. */
  loopMaxEverMs: number;
  /** Bytes of expired messages' attachments removed after the grace period (--expired-attachment-grace). */
  freedBytes: number;
}

/** One minute of traffic; gauges (connections, listeners, transfers) as at the end of the minute. */
export interface MinuteSample {
  /** Start of the minute, ISO 8601. */
  at: string;
  messages: number;
  /** Messages sent with priority=urgent. */
  urgent: number;
  popups: number;
  bytesIn: number;
  bytesOut: number;
  connectionsOpened: number;
  connections: number;
  liveListeners: number;
  transfers: number;
  /** Event-loop lateness in the minute, ms (0 for a minute with no samples). */
  loopP99Ms: number;
  loopMaxMs: number;
  /** Bytes of expired attachments removed in the minute. */
  freedBytes: number;
  /** True for the minute still running. */
  partial: boolean;
}

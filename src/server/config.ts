import type { ThrottleOptions } from './throttle.js';

/**
 * Every limit is a named option: its flag, environment variable, config-file key, default and
 * bounds are a row of SERVER_OPTIONS (options.ts); docs/PROTOCOL.md §Limits says what each does.
 * defaultConfig() is in default-config.ts (the table imports this type, so this file imports no table).
 */
export interface ServerConfig {
  host: string;
  port: number;
  dataDir: string;
  /** Where the store is (--store): null for <data>/siar.db, sqlite:PATH or a path, postgres://… (src/adapters/index.ts). */
  store: string | null;
  /** PostgreSQL: the connections of the store's pool (--store-pool-size); SQLite ignores it. */
  storePoolSize: number;
  /** What the nodes of a cluster share besides the store (--bus): null for in process, redis://… (src/adapters/index.ts). */
  bus: string | null;
  /** This node's name on the bus and in presence (--node-id): null for host:port. */
  nodeId: string | null;
  /** With a bus, the cluster's name (--cluster-name): the start of its Redis keys; null for siar:. */
  clusterName: string | null;
  /** How long a once-per-cluster job's lease lasts without renewal (--lease-ttl; cluster-job.ts). */
  leaseTtlMs: number;
  /** With a bus: how often each node catches up its connections from the store (0: never). */
  catchUpIntervalMs: number;
  /** smtp:// or smtps:// URL; null: mail is written to <data>/mail/. */
  smtpUrl: string | null;
  mailFrom: string;
  /** The key file that seals queued mail, shared by every node (--mail-key-file); null: <data>/mail.key. */
  mailKeyFile: string | null;
  logLevel: string;
  /** Longest frame accepted; a longer one closes the connection. */
  maxFrameBytes: number;
  /** A connection that sends nothing for this long is closed (clients PING meanwhile). */
  idleTimeoutMs: number;
  /** Lifetime of a session token. */
  sessionTtlMs: number;
  /** Frames read but not yet answered on one connection before reading pauses. */
  maxQueuedFrames: number;
  /** Unsent bytes queued to one slow peer before it is disconnected. */
  maxOutputBytes: number;
  /** Unsent bytes to one peer past which its requests are neither read nor run until it takes them. */
  outputPauseBytes: number;
  /** A peer that takes none of its output (more than outputPauseBytes waiting) for this long is disconnected. */
  outputStallTimeoutMs: number;
  /** Unsent bytes held for the backed-up connections of one address; past it the longest backed up is dropped. */
  maxOutputBytesPerAddress: number;
  /** Unsent bytes held for backed-up connections on the whole server; past it the longest backed up is dropped. */
  maxOutputBytesTotal: number;
  /** Bad frames tolerated on one connection before it is closed. */
  maxBadFrames: number;
  /** Largest page a list command returns. */
  maxPageSize: number;
  /** Longest message body and subject, in characters. */
  maxBodyChars: number;
  maxSubjectChars: number;
  /** Pending popups pushed at login. */
  maxPopupsAtLogin: number;
  /** Who may send priority=urgent: 'members', 'admin' or a comma-separated list of usernames (issue 21). */
  urgentSenders: string;
  /** The shortest automatic reminder period SEND remind= may ask for (issue 21). */
  remindMinIntervalMs: number;
  /**
   * Max simultaneous control connections. Default: the process's open-files limit minus a reserve
   * for everything else it keeps open (fd-limit.ts); a larger value is clamped at start.
   */
  maxConnections: number;
  /** How often the server checks it can still open a file (EMFILE is logged); 0: never. */
  fdCheckIntervalMs: number;
  /** SQLite durability: NORMAL (default, WAL-safe) or FULL (power-loss safe). */
  synchronous: 'NORMAL' | 'FULL';
  /** Password brute-force protection (LOGIN, PASSWD old=): delay and lock per (username, address) and per address; a per-username alert, never a lock. */
  loginThrottle: ThrottleOptions;
  /** PEM certificate chain and key: TLS on the control port and on every shadow listener. */
  tls: { cert: Buffer; key: Buffer } | null;
  /** SIGTERM: time in-flight commands and transfers get to finish before connections close. */
  shutdownDeadlineMs: number;
  /** An unfinished frame must be completed within this time (slowloris). */
  frameTimeoutMs: number;
  /** Connections from one address that have not logged in, at once. */
  maxAnonymousPerAddress: number;
  /** Logged-in connections one member (the administrator included) may hold at once. */
  maxConnectionsPerMember: number;
  /** Logged-in connections from one address at once; the administrator's LOGIN is not held to it. */
  maxLoggedInPerAddress: number;
  /** Of maxConnections, the last ones only a LOGIN as administrator may take (at most half of them). */
  adminReservedConnections: number;
  /** A connection admitted on a reserved slot must log in as administrator within this time. */
  reservedSlotLoginTimeoutMs: number;
  /** Pending registration requests one address may have open at once. */
  maxPendingRegistrationsPerAddress: number;
  /** Pending registration requests from everyone at once (a script with many addresses); 0 = no cap. */
  maxPendingRegistrations: number;
  /** Messages one member may send in any minute (RATE_LIMITED past it); 0 = no limit. */
  maxSendsPerMinute: number;
  /** REPORT calls one member may make in any minute (TOO_MANY_REQUESTS past it); 0 = no limit. */
  maxReportsPerMinute: number;
  /** Bytes one member's messages may take: subjects, bodies, attachments (QUOTA_EXCEEDED past it); 0 = no quota. */
  memberQuotaBytes: number;
  /** How long a write waits for a database lock held by another process before BUSY. */
  busyWaitMs: number;
  // --- attachments and shadow listeners (docs/PROTOCOL-transfer.md §Limits)
  /** Address shadow listeners bind to and advertise; null: the control connection's local address. */
  transferHost: string | null;
  /** Ports shadow listeners pick from at random (for firewalls); null: any port the OS picks. */
  transferPorts: { from: number; to: number } | null;
  /** Largest attachment accepted, in bytes (checked at SEND, before any byte is read). */
  maxAttachmentBytes: number;
  /** Largest total of one message's attachments, in bytes. */
  maxMessageAttachmentBytes: number;
  /** Most attachments one message may carry. */
  maxAttachmentsPerMessage: number;
  /** A shadow listener waits this long for its peer (the ticket's lifetime), then closes. */
  transferConnectTimeoutMs: number;
  /** A transfer connection silent for this long (including before its ticket line) is closed. */
  transferIdleTimeoutMs: number;
  /** Live transfers (listening or streaming) one member may have at once. */
  maxTransfersPerMember: number;
  /** Live transfers on the whole server. */
  maxTransfers: number;
  /** A message still waiting for attachments this long after SEND expires; nobody ever sees it. */
  uploadWindowMs: number;
  /** An interrupted upload's received bytes are kept this long for a resume; 0: discarded at once. */
  partialRetentionMs: number;
  /** How often expired messages, stale partial uploads and expired attachments past their grace are cleaned up. */
  transferSweepIntervalMs: number;
  /** The attachments of a message sent with expires= are removed this long after it expired; 0: kept. */
  expiredAttachmentGraceMs: number;
  /** UPLOAD, SEND and REGISTER are refused (DISK_FULL) when they would leave less than this free on the data disk. */
  minFreeDiskBytes: number;
  /** Registration requests left undecided this many days expire (the registrant is told); 0 = never. */
  registrationExpiryDays: number;
  /** How often the server looks for requests to expire. */
  registrationExpiryCheckMs: number;
  /** Minutes of per-minute traffic history kept for STATS. */
  statsHistoryMinutes: number;
}

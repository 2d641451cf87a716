/**
 * Every `siar server` option, once: its flag, its environment variable (SIAR_ and the name in
 * upper snake case), its key in the config file (the name), its kind, default and bounds, where
 * --help lists it, and the ServerConfig field it sets. defaultConfig(), the flags, the environment,
 * the config file, the validation, `--print-config`, contrib/server.yml and docs/SERVER-OPTIONS.md
 * all come from this table (docs/PROTOCOL.md §Limits says what each limit does on the wire).
 */
import { CLUSTER_NAME, CLUSTER_NAME_RULE } from '../core/cluster-name.js';
import { DEFAULT_MAX_FRAME_BYTES } from '../protocol/index.js';
import type { ServerConfig } from './config.js';
import type { KindSpec, OptionValue } from './option-kinds.js';
import { DEFAULT_THROTTLE, type ThrottleOptions } from './throttle.js';

/** A ServerConfig field an option sets; login throttle settings are fields of loginThrottle. */
export type ConfigPath = Exclude<keyof ServerConfig, 'loginThrottle' | 'tls'> | `loginThrottle.${keyof ThrottleOptions}`;

export type OptionSpec = KindSpec & {
  /**
   * The ServerConfig field(s) it sets, its value multiplied by `scale` if given. None for the TLS
   * files and the log format, which `siar server` uses itself (to read the files, to make the logger).
   */
  sets?: ConfigPath | readonly ConfigPath[];
  scale?: number;
};

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
/** setTimeout's longest delay is about 24.8 days (2^31 − 1 ms); a longer one fires at once. */
const TIMER_MAX = 24 * DAY;
const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

export const SERVER_OPTIONS: readonly OptionSpec[] = [
  // --- where it listens and keeps its data
  { name: 'host', group: 'Server:', kind: 'host', default: '127.0.0.1', sets: 'host', describe: 'address to listen on (0.0.0.0: every interface)' },
  { name: 'port', group: 'Server:', kind: 'integer', default: 7400, min: 0, max: 65535, sets: 'port', describe: 'TCP port of the control connection (0: any free port)' },
  { name: 'data', group: 'Server:', kind: 'path', default: 'data', sets: 'dataDir', describe: 'data directory (database, mail, admin-password), relative to the directory the server starts in' },
  {
    name: 'tls-cert', group: 'Server:', kind: 'path', default: null, unset: { means: 'no TLS', example: '/etc/siar/cert.pem' },
    describe: 'PEM certificate chain: TLS on the control port and every shadow listener (with tls-key)',
  },
  { name: 'tls-key', group: 'Server:', kind: 'path', default: null, unset: { means: 'no TLS', example: '/etc/siar/key.pem' }, describe: 'PEM private key for tls-cert' },
  {
    name: 'shutdown-deadline', group: 'Server:', kind: 'duration', default: 10 * SECOND, min: 0, max: TIMER_MAX, sets: 'shutdownDeadlineMs',
    describe: 'on SIGTERM, how long commands and transfers under way get to finish before connections close',
  },

  // --- logs and statistics
  { name: 'log-level', group: 'Logging:', kind: 'enum', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info', sets: 'logLevel', describe: 'least important log lines written' },
  {
    name: 'log-format', group: 'Logging:', kind: 'enum', choices: ['pretty', 'json'], default: null,
    unset: { means: 'pretty on a terminal, json otherwise', example: 'json' }, describe: 'log lines for people (pretty) or one JSON object per line (json)',
  },
  { name: 'stats-history-minutes', group: 'Logging:', kind: 'integer', default: 60, min: 1, max: 7 * 24 * 60, sets: 'statsHistoryMinutes', describe: 'minutes of per-minute traffic history kept for STATS' },

  // --- mail
  {
    name: 'smtp', group: 'Mail:', kind: 'url', schemes: ['smtp:', 'smtps:'], default: null, secret: true, sets: 'smtpUrl',
    unset: { means: 'mail is written to <data>/mail/', example: 'smtp://user:pass@mail.example.ac.id:587' },
    describe: 'send mail over SMTP (the password is never shown)',
  },
  { name: 'mail-from', group: 'Mail:', kind: 'string', default: 'siar <siar@localhost>', sets: 'mailFrom', describe: 'From address of the mails' },
  {
    name: 'mail-key-file', group: 'Mail:', kind: 'path', default: null, sets: 'mailKeyFile',
    unset: { means: '<data>/mail.key, made at the first start', example: '/etc/siar/mail.key' },
    describe: 'the key (32 random bytes, mode 0600) that seals queued mail, which holds passwords; every node of a cluster names the same key (a copy of one file), so any node sends the mail any node queued. It is checked at start: a missing, unreadable, wrong-sized or group- or world-readable file stops the server',
  },

  // --- the database and the disk
  {
    name: 'store', group: 'Storage:', kind: 'store', default: null, secret: true, sets: 'store',
    unset: { means: 'the SQLite file <data>/siar.db', example: 'postgres://siar@db.example.ac.id:5432/siar' },
    describe: 'the store: an SQLite file (sqlite:PATH or PATH) or a PostgreSQL database (postgres://user@host:port/db); give a password through SIAR_STORE, the config file or PGPASSWORD, not on the command line (it is never shown)',
  },
  {
    name: 'store-pool-size', group: 'Storage:', kind: 'integer', default: 10, min: 1, max: 100, sets: 'storePoolSize',
    describe: 'PostgreSQL only: connections this node keeps to the store for reads and transactions (the group commit has one more of its own, attachments up to 6); under load a command waits for a free one. Every node holds them at once, so nodes × (this + 7) must stay below PostgreSQL\'s max_connections (100 unless configured)',
  },
  {
    name: 'bus', group: 'Storage:', kind: 'url', schemes: ['redis:', 'rediss:'], default: null, secret: true, sets: 'bus',
    unset: { means: 'a single node: bus, presence and traffic counters in this process', example: 'redis://:password@redis.example.ac.id:6379' },
    describe: 'the Redis the nodes of a cluster share for the bus, presence and traffic counters (the password is never shown)',
  },
  {
    name: 'node-id', group: 'Storage:', kind: 'string', default: null, sets: 'nodeId',
    unset: { means: 'host:port of this node', example: 'node-1' },
    describe: 'this node\'s name on the bus and in presence, unique in the cluster',
  },
  {
    name: 'cluster-name', group: 'Storage:', kind: 'string', default: null, sets: 'clusterName',
    pattern: { regex: CLUSTER_NAME, says: CLUSTER_NAME_RULE },
    unset: { means: 'the Redis keys begin siar:', example: 'campus-a' },
    describe: 'with --bus: the cluster\'s name, the same on each of its nodes; every key and channel it uses in Redis begins siar@NAME:, so clusters with different names can share one Redis database without hearing each other',
  },
  {
    name: 'lease-ttl', group: 'Storage:', kind: 'duration', default: 15 * SECOND, min: 100, max: TIMER_MAX, sets: 'leaseTtlMs',
    describe: 'how long a node holds the lease of a once-per-cluster job (the registration-expiry sweep, the mail queue) without renewing it; when its node dies another takes the job over within about this long',
  },
  {
    name: 'catch-up-interval', group: 'Storage:', kind: 'duration', default: 5 * SECOND, min: 0, max: TIMER_MAX, sets: 'catchUpIntervalMs',
    describe: 'with --bus: how often each node pushes to its own connections the popups the store says they have not had (at most 1,000 a time), so a lost wake-up on the bus delays a popup by at most this and never loses it; 0 turns it off',
  },
  { name: 'synchronous', group: 'Storage:', kind: 'enum', choices: ['NORMAL', 'FULL'], default: 'NORMAL', sets: 'synchronous', describe: 'SQLite durability (FULL survives power loss)' },
  {
    name: 'busy-wait', group: 'Storage:', kind: 'duration', default: 5 * SECOND, min: 0, max: TIMER_MAX, sets: 'busyWaitMs',
    describe: 'how long a write waits for a database lock held by another process (an sqlite3 shell) before answering BUSY',
  },
  {
    name: 'min-free-disk', group: 'Storage:', kind: 'size', default: 64 * MiB, min: 0, sets: 'minFreeDiskBytes',
    describe: 'SEND, REGISTER and UPLOAD are refused (DISK_FULL) when they would leave less than this free on the data disk',
  },

  // --- who may connect, and for how long
  {
    name: 'max-connections', group: 'Connections:', kind: 'integer', default: null, min: 1, sets: 'maxConnections',
    unset: { means: 'the open-files limit (ulimit -Hn) minus a reserve of about 136 for the database, backups, mail and 16 transfers: 19,864 at 20,000', example: '10000' },
    describe: 'control connections held at once; extra clients are refused with TOO_MANY_REQUESTS (a value above what the open-files limit allows is lowered to that, with a warning)',
  },
  {
    name: 'admin-reserved-connections', group: 'Connections:', kind: 'integer', default: 4, min: 0, sets: 'adminReservedConnections',
    describe: 'of max-connections, the last ones only a LOGIN as administrator may take (at most half)',
  },
  {
    name: 'reserved-slot-login-timeout', group: 'Connections:', kind: 'duration', default: 10 * SECOND, min: 1, max: TIMER_MAX, sets: 'reservedSlotLoginTimeoutMs',
    describe: 'a connection on a reserved slot must log in as administrator within this time',
  },
  { name: 'max-anonymous-per-address', group: 'Connections:', kind: 'integer', default: 64, min: 1, sets: 'maxAnonymousPerAddress', describe: 'connections from one address that have not logged in' },
  { name: 'max-connections-per-member', group: 'Connections:', kind: 'integer', default: 64, min: 1, sets: 'maxConnectionsPerMember', describe: 'logged-in connections one member (the administrator included) may hold at once, on all the nodes of a cluster together' },
  { name: 'max-logged-in-per-address', group: 'Connections:', kind: 'integer', default: 512, min: 1, sets: 'maxLoggedInPerAddress', describe: 'logged-in connections from one address, the administrator\'s aside' },
  { name: 'idle-timeout', group: 'Connections:', kind: 'duration', default: 5 * MINUTE, min: 1, max: TIMER_MAX, sets: 'idleTimeoutMs', describe: 'a connection that sends nothing for this long is closed (clients PING meanwhile)' },
  { name: 'frame-timeout', group: 'Connections:', kind: 'duration', default: 30 * SECOND, min: 1, max: TIMER_MAX, sets: 'frameTimeoutMs', describe: 'a frame begun must be finished within this time (slowloris)' },
  { name: 'max-frame', group: 'Connections:', kind: 'size', default: DEFAULT_MAX_FRAME_BYTES, min: 1 * KiB, max: 64 * MiB, sets: 'maxFrameBytes', describe: 'longest frame; a longer one closes the connection' },
  { name: 'max-queued-frames', group: 'Connections:', kind: 'integer', default: 64, min: 1, sets: 'maxQueuedFrames', describe: 'frames read but not yet answered on one connection before reading pauses' },
  { name: 'max-bad-frames', group: 'Connections:', kind: 'integer', default: 10, min: 1, sets: 'maxBadFrames', describe: 'bad frames tolerated on one connection before it is closed' },
  {
    name: 'fd-check-interval', group: 'Connections:', kind: 'duration', default: 5 * SECOND, min: SECOND, max: TIMER_MAX, zero: 'never', sets: 'fdCheckIntervalMs',
    describe: 'how often the server checks it can still open a file (running out is logged)',
  },

  // --- peers that do not read what they are sent
  { name: 'max-output-per-connection', group: 'Slow readers:', kind: 'size', default: 8 * MiB, min: 1, sets: 'maxOutputBytes', describe: 'unsent output queued to one peer before it is disconnected' },
  { name: 'output-pause', group: 'Slow readers:', kind: 'size', default: 64 * KiB, min: 1, sets: 'outputPauseBytes', describe: 'unsent output to one peer past which its requests are neither read nor run until it takes some' },
  { name: 'output-stall-timeout', group: 'Slow readers:', kind: 'duration', default: 30 * SECOND, min: 1, max: TIMER_MAX, sets: 'outputStallTimeoutMs', describe: 'a peer that takes none of its replies for this long is disconnected' },
  {
    name: 'max-output-per-address', group: 'Slow readers:', kind: 'size', default: 32 * MiB, min: 1, sets: 'maxOutputBytesPerAddress',
    describe: 'unsent output held for the peers of one address that are not reading; past it the longest backed up is dropped',
  },
  { name: 'max-output-total', group: 'Slow readers:', kind: 'size', default: 256 * MiB, min: 1, sets: 'maxOutputBytesTotal', describe: 'unsent output held for peers that are not reading, on the whole server' },

  // --- messages
  { name: 'max-subject', group: 'Messages:', kind: 'integer', default: 200, min: 1, sets: 'maxSubjectChars', describe: 'longest subject, in characters' },
  { name: 'max-body', group: 'Messages:', kind: 'integer', default: 48 * 1024, min: 1, sets: 'maxBodyChars', describe: 'longest message body, in characters (it must also fit one frame)' },
  { name: 'max-page-size', group: 'Messages:', kind: 'integer', default: 500, min: 1, sets: 'maxPageSize', describe: 'largest page a list command returns' },
  { name: 'max-popups-at-login', group: 'Messages:', kind: 'integer', default: 1000, min: 0, sets: 'maxPopupsAtLogin', describe: 'popups missed while away that are pushed at login' },
  {
    name: 'max-sends-per-minute', group: 'Messages:', kind: 'integer', default: 120, min: 1, zero: 'no limit', sets: 'maxSendsPerMinute',
    describe: 'messages (and reminders, siar remind) one member may send in any minute, counted across the nodes of a cluster (--bus); more are refused with RATE_LIMITED',
  },
  {
    name: 'max-reports-per-minute', group: 'Messages:', kind: 'integer', default: 60, min: 1, zero: 'no limit', sets: 'maxReportsPerMinute',
    describe: 'acknowledgement reports (REPORT, siar report) one member may ask for in any minute, counted across the nodes of a cluster (--bus); more are refused with TOO_MANY_REQUESTS',
  },
  {
    name: 'urgent-senders', group: 'Messages:', kind: 'string', default: 'members', sets: 'urgentSenders',
    describe: 'who may send priority=urgent: members (anyone), admin (the administrator only) or NAME,NAME… (those members and the administrator)',
  },
  {
    name: 'remind-min-interval', group: 'Messages:', kind: 'duration', default: MINUTE, min: SECOND, max: 24 * HOUR, sets: 'remindMinIntervalMs',
    describe: 'the shortest period of automatic reminders (SEND remind=, siar send --remind-every); a shorter one is refused',
  },
  {
    name: 'member-quota', group: 'Messages:', kind: 'size', default: 10 * GiB, min: 1, zero: 'no quota', sets: 'memberQuotaBytes',
    describe: 'what one member\'s messages may take: subjects, bodies and attachments; more is refused with QUOTA_EXCEEDED',
  },

  // --- sessions and password guessing (throttle.ts)
  { name: 'session-lifetime', group: 'Login:', kind: 'duration', default: 12 * HOUR, min: MINUTE, max: 365 * DAY, sets: 'sessionTtlMs', describe: 'how long a login (its session token) stays valid' },
  {
    name: 'login-free-failures', group: 'Login:', kind: 'integer', default: DEFAULT_THROTTLE.freeFailures, min: 0, sets: 'loginThrottle.freeFailures',
    describe: 'wrong passwords for one username from one address answered without delay',
  },
  {
    name: 'login-base-delay', group: 'Login:', kind: 'duration', default: DEFAULT_THROTTLE.baseDelayMs, min: 0, max: TIMER_MAX, sets: 'loginThrottle.baseDelayMs',
    describe: 'the delay after the first wrong password past those; it doubles with each further one',
  },
  { name: 'login-max-delay', group: 'Login:', kind: 'duration', default: DEFAULT_THROTTLE.maxDelayMs, min: 0, max: TIMER_MAX, sets: 'loginThrottle.maxDelayMs', describe: 'the longest such delay' },
  {
    name: 'login-lockout-failures', group: 'Login:', kind: 'integer', default: DEFAULT_THROTTLE.lockoutFailures, min: 1, sets: 'loginThrottle.lockoutFailures',
    describe: 'wrong passwords for one username from one address that lock that pair (never the username everywhere)',
  },
  {
    name: 'login-address-lockout-failures', group: 'Login:', kind: 'integer', default: DEFAULT_THROTTLE.addressLockoutFailures, min: 1, sets: 'loginThrottle.addressLockoutFailures',
    describe: 'wrong passwords from one address, any usernames, that lock the address',
  },
  {
    name: 'login-alert-failures', group: 'Login:', kind: 'integer', default: DEFAULT_THROTTLE.alertFailures, min: 1, sets: 'loginThrottle.alertFailures',
    describe: 'wrong passwords for one username from all addresses that alert the administrator and slow further guesses (no lock)',
  },
  {
    name: 'login-lockout-minutes', group: 'Login:', kind: 'integer', default: DEFAULT_THROTTLE.lockoutMs / MINUTE, min: 1, max: 30 * 24 * 60,
    sets: ['loginThrottle.lockoutMs', 'loginThrottle.windowMs'], scale: MINUTE, describe: 'how long a lock lasts and how long failures are counted',
  },
  {
    name: 'login-max-tracked', group: 'Login:', kind: 'integer', default: DEFAULT_THROTTLE.maxKeys, min: 1, sets: 'loginThrottle.maxKeys',
    describe: 'pairs, addresses and usernames whose failures are counted at once; past it the oldest are dropped, so memory stays bounded',
  },
  {
    name: 'login-report-interval', group: 'Login:', kind: 'duration', default: DEFAULT_THROTTLE.reportIntervalMs, min: SECOND, max: TIMER_MAX, sets: 'loginThrottle.reportIntervalMs',
    describe: 'how often ended locks and alerts are written to the audit log',
  },

  // --- registration requests
  {
    name: 'max-pending-registrations', group: 'Registration:', kind: 'integer', default: 5, min: 0, sets: 'maxPendingRegistrationsPerAddress',
    describe: 'registration requests one address may have waiting for a decision',
  },
  {
    name: 'max-pending-registrations-total', group: 'Registration:', kind: 'integer', default: 1000, min: 1, zero: 'no cap', sets: 'maxPendingRegistrations',
    describe: 'registration requests waiting for a decision from everyone at once',
  },
  {
    name: 'registration-expiry-days', group: 'Registration:', kind: 'integer', default: 30, min: 1, max: 3650, zero: 'never', sets: 'registrationExpiryDays',
    describe: 'undecided registration requests expire after this many days (the registrant is told)',
  },
  {
    name: 'registration-expiry-check-interval', group: 'Registration:', kind: 'duration', default: HOUR, min: SECOND, max: TIMER_MAX, sets: 'registrationExpiryCheckMs',
    describe: 'how often the server looks for requests to expire',
  },

  // --- attachments and shadow listeners (docs/PROTOCOL-transfer.md §Limits)
  {
    name: 'transfer-host', group: 'Attachments:', kind: 'host', default: null, sets: 'transferHost',
    unset: { means: 'the address the client reached', example: '203.0.113.7' }, describe: 'address shadow listeners bind to and advertise',
  },
  {
    name: 'transfer-ports', group: 'Attachments:', kind: 'port-range', default: null, sets: 'transferPorts',
    unset: { means: 'any free port', example: '40000-40099' }, describe: 'port range for shadow listeners, picked at random (for firewalls)',
  },
  { name: 'max-attachment', group: 'Attachments:', kind: 'size', default: 1 * GiB, min: 1, sets: 'maxAttachmentBytes', describe: 'largest attachment, checked at SEND before any byte is read' },
  { name: 'max-message-attachments', group: 'Attachments:', kind: 'size', default: 4 * GiB, min: 1, sets: 'maxMessageAttachmentBytes', describe: 'largest total of one message\'s attachments' },
  { name: 'max-attachments-per-message', group: 'Attachments:', kind: 'integer', default: 32, min: 1, sets: 'maxAttachmentsPerMessage', describe: 'most attachments one message may carry' },
  {
    name: 'transfer-timeout', group: 'Attachments:', kind: 'duration', default: 60 * SECOND, min: 1, max: TIMER_MAX, sets: 'transferConnectTimeoutMs',
    describe: 'how long a shadow listener waits for its peer (the ticket\'s lifetime)',
  },
  { name: 'transfer-idle-timeout', group: 'Attachments:', kind: 'duration', default: 60 * SECOND, min: 1, max: TIMER_MAX, sets: 'transferIdleTimeoutMs', describe: 'a data connection silent this long is closed' },
  { name: 'max-transfers', group: 'Attachments:', kind: 'integer', default: 256, min: 1, sets: 'maxTransfers', describe: 'live transfers (listening or streaming) on the whole server' },
  { name: 'max-transfers-per-member', group: 'Attachments:', kind: 'integer', default: 8, min: 1, sets: 'maxTransfersPerMember', describe: 'live transfers one member may have at once' },
  {
    name: 'upload-window', group: 'Attachments:', kind: 'duration', default: DAY, min: SECOND, max: 365 * DAY, sets: 'uploadWindowMs',
    describe: 'a message whose attachments are not all uploaded this long after SEND expires; nobody ever sees it',
  },
  {
    name: 'partial-retention', group: 'Attachments:', kind: 'duration', default: HOUR, min: 1, max: 365 * DAY, zero: 'discarded at once, not resumable', sets: 'partialRetentionMs',
    describe: 'an interrupted upload\'s bytes are kept this long for a resume',
  },
  {
    name: 'transfer-sweep-interval', group: 'Attachments:', kind: 'duration', default: MINUTE, min: SECOND, max: TIMER_MAX, sets: 'transferSweepIntervalMs',
    describe: 'how often expired messages, stale partial uploads and expired attachments past their grace are cleaned up',
  },
  {
    name: 'expired-attachment-grace', group: 'Attachments:', kind: 'duration', default: 7 * DAY, min: SECOND, max: 3650 * DAY, zero: 'kept, never removed (also written off)',
    sets: 'expiredAttachmentGraceMs',
    describe: 'the attachments of a message sent with expires= are removed this long after it expired (downloads then answer ATTACHMENT_REMOVED)',
  },
];

/** The environment variable of an option: `max-connections` → SIAR_MAX_CONNECTIONS. */
export function envName(spec: Pick<OptionSpec, 'name'>): string {
  return `SIAR_${spec.name.replace(/-/g, '_').toUpperCase()}`;
}

export function optionNamed(name: string): OptionSpec | undefined {
  return SERVER_OPTIONS.find((o) => o.name === name);
}

function targets(spec: OptionSpec): readonly ConfigPath[] {
  return spec.sets === undefined ? [] : typeof spec.sets === 'string' ? [spec.sets] : spec.sets;
}

/**
 * The ServerConfig fields the given option values set: the defaults when given every option's
 * default, the operator's settings when given those. An unset value (null) sets nothing, unless
 * `unsetAsNull` (the defaults: transferHost null means "the address the client reached").
 */
export function configFields(values: Iterable<readonly [OptionSpec, OptionValue | null]>, unsetAsNull = false): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [spec, value] of values) {
    if (value === null && !unsetAsNull) continue;
    for (const target of targets(spec)) {
      const v = typeof value === 'number' && spec.scale ? value * spec.scale : value;
      const [head, field] = target.split('.') as [string, string | undefined];
      if (field === undefined) out[head] = v;
      else out[head] = { ...(out[head] as object | undefined), [field]: v };
    }
  }
  return out;
}

/** Every field the table sets, at its default; null where the default is to leave it unset. */
export function tableDefaults(): Record<string, unknown> {
  return configFields(SERVER_OPTIONS.map((o) => [o, o.default] as const), true);
}

import type { Logger } from 'pino';
import type { ArgInput, Args } from '../../protocol/index.js';
import type { ServerConfig } from '../config.js';
import type { BackupService } from '../backup.js';
import type { Connection } from '../connection.js';
import type { MessageRouter } from '../router.js';
import type { AccountCache } from '../account-cache.js';
import type { Bus } from '../../core/ports/bus.js';
import type { LoginThrottleState } from '../throttle.js';
import type { TrafficStats } from '../stats.js';
import type { DiskFloor } from '../disk-floor.js';
import type { SendRate } from '../../core/ports/send-rate.js';
import type { Store, User, Session } from '../../core/ports/store.js';
import type { TransferService } from '../../transfer/service.js';
import type { Actor } from '../../core/services/actor.js';

/** What handlers may use. Handlers never touch sockets or SQL directly. */
export interface Services {
  config: ServerConfig;
  store: Store;
  router: MessageRouter;
  /** Sessions, members and recipients' ids kept between commands, forgotten on the bus's word (account-cache.ts). */
  accounts: AccountCache;
  /** What one node tells every node (message stored, notices, closings); router and delivery publish on it. */
  bus: Bus;
  mail: MailOutbox;
  log: Logger;
  /** Shadow listeners and attachments (UPLOAD, DOWNLOAD); absent only in servers built without them. */
  transfers?: TransferService;
  /** Brute-force protection for LOGIN. */
  throttle: LoginThrottleState;
  /** Each member's sending rate (SEND, MEMBERS). */
  sendRate: SendRate;
  /** Each member's REPORT calls in a sliding minute (--max-reports-per-minute): the sending rate's port, its own count. */
  reportRate: SendRate;
  /** The free-space floor for SEND and REGISTER. */
  diskFloor: DiskFloor;
  /** Traffic counters (STATS); hot paths only bump integers. */
  stats: TrafficStats;
  /** Online backups of the database (BACKUP, BACKUPS). */
  backups: BackupService;
}

/** The handlers' view of outgoing mail: mail is queued through the store, sealed, and sent by a worker. */
export interface MailOutbox {
  /** Seals mail text for the queue (credentials are secrets at rest). */
  seal(text: string): string;
  /** Sends queued mail now instead of at the next poll. */
  kick(): void;
}

/** Who may run a command (docs/PROTOCOL.md §Commands). */
export type Access = 'anyone' | 'user' | 'member' | 'admin';

export interface Auth {
  user: User;
  session: Session;
}

export interface CommandContext {
  services: Services;
  conn: Connection;
  /** The request id, for logging. */
  requestId: string;
  /** Present for every access level but 'anyone' (and for 'anyone' when a valid token came along). */
  auth: Auth | null;
  /** Streams one row of a list reply. */
  item(args: ArgInput): void;
  /** Streams rows encoded already, line feeds included (itemRowsTemplate). */
  encodedItems(rows: string): void;
  /**
   * Runs work right after the command's OK is written (pushes, popups): the client learns the
   * outcome first, and the OK and the pushes of one turn leave in the same write.
   */
  afterReply(work: () => void): void;
  log: Logger;
}

/** The authenticated context handlers with access other than 'anyone' receive. */
export type AuthedContext = CommandContext & { auth: Auth };

export interface Command {
  verb: string;
  access: Access;
  /** One line for HELP, naming the arguments. */
  usage: string;
  handler(ctx: AuthedContext | CommandContext, args: Args): Promise<ArgInput | void>;
}

/** Declares a command whose handler gets an authenticated context. */
export function authed(
  verb: string,
  access: Exclude<Access, 'anyone'>,
  usage: string,
  handler: (ctx: AuthedContext, args: Args) => Promise<ArgInput | void>,
): Command {
  return { verb, access, usage, handler: handler as Command['handler'] };
}

export function open(
  verb: string,
  usage: string,
  handler: (ctx: CommandContext, args: Args) => Promise<ArgInput | void>,
): Command {
  return { verb, access: 'anyone', usage, handler };
}

/** Who asks, and from which address: what a core service records in the audit log. */
export function actorOf(ctx: AuthedContext): Actor {
  return { user: ctx.auth.user, address: ctx.conn.remoteAddress };
}

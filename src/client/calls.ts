/**
 * The typed siar client: one method per protocol verb, named for what it does, with typed
 * arguments and replies (list replies' ITEM rows as arrays), and the server's pushes as typed
 * events. This is the one place in src/client where verbs and push names are spelled; the CLI,
 * `siar tui` and the console call these methods. docs/PROTOCOL*.md describes each verb.
 *
 * SiarClient (one connection, connection.ts) and SiarSession (a reconnecting session, session.ts)
 * both extend SiarCalls, so the same calls work on either: a refusal rejects with RemoteError,
 * whose `code` is an ErrorCode of the catalogue (src/protocol/errors.ts).
 *
 *   const sent = await client.send({ to: ['ugm'], subject: 'Rapat', body: 'Senin, 09.00' });
 *   client.on('popup', (p) => console.log(p.from, p.subject));
 *   await client.admin.approve(3);
 */
import { EventEmitter } from 'node:events';
import * as records from '../protocol/index.js';
import {
  type ArgInput, type Args, type ChannelAccess, type ChannelRecord, type ChannelRole, type ChannelRosterEntry, type DirectoryEntry,
  type GroupMemberEntry, type GroupRecord, type MessageRecord, type PopupRecord, type Priority, type PublishPolicy, type RegistrationRecord,
} from '../protocol/index.js';
import { encodeDeclaration, type Declaration } from '../transfer/wire.js';
import {
  argsToApproveReply, argsToAuditEvent, argsToBackupRow, argsToBackupStatus, argsToChannelChange, argsToCommandHelp, argsToDecided,
  argsToDecision, argsToDownloaded, argsToExpiry, argsToGroupChange, argsToHello, argsToLiveTransfer, argsToLoginAlert,
  argsToLoginInfo, argsToMailEvent, argsToMailRetry, argsToMailRow, argsToMember, argsToMemberChange, argsToOffer,
  argsToOnlineUser, argsToReadReceipt, argsToRegisterReply, argsToRejectReply, argsToSendFailed, argsToSendReply, argsToSentNotice,
  argsToStats, argsToSubscription, argsToAckReceipt, argsToAckReply, argsToRecallNotice, argsToRecallReply, argsToRemindReply, argsToReport,
  type AckReceipt, type Reply, type AckReply, type RecallNotice, type RecallReply, type RemindReply, type Report, argsToTransferFailed, argsToUploaded, argsToWhoAmI, keeping, withWire,
  type ApproveReply, type AuditEvent, type BackupList, type BackupStatus, type ChannelChange, type CommandHelp, type Decided,
  type Decision, type Downloaded, type ExpiryReply, type GroupChange, type LiveTransfer, type LoginAlert, type LoginInfo,
  type MailEvent, type MailRetryReply, type MailRow, type MemberChange, type MemberRow, type OnlineReply, type ReadReceipt,
  type RegisterReply, type RejectReply, type SendFailed, type SendReply, type SentNotice, type ServerHello, type Stats,
  type SubscriptionChange, type TransferFailed, type TransferOffer, type Uploaded, type WhoAmI,
} from './replies.js';

// The shared records' decoders (src/protocol), each record remembering its arguments (wireArgs).
const argsToChannel = keeping(records.argsToChannel);
const argsToDirectoryEntry = keeping(records.argsToDirectoryEntry);
const argsToGroup = keeping(records.argsToGroup);
const argsToGroupMember = keeping(records.argsToGroupMember);
const argsToMessage = keeping(records.argsToMessage);
const argsToPopup = keeping(records.argsToPopup);
const argsToRegistration = keeping(records.argsToRegistration);
const argsToRoster = keeping(records.argsToRoster);

// --- arguments

export interface RegistrationInput {
  institution: string;
  contact: string;
  /** Where the credentials are mailed. */
  email: string;
  phone?: string;
  address?: string;
  /** The username asked for: 2-32 of a-z 0-9 . _ -, a letter first. */
  username: string;
  /** Stay for the decision: it arrives as a 'decision' event on this connection. */
  wait?: boolean;
}

/** A message to send: exactly one of `to` (usernames and `@group`s), `all`, or `channel`. */
export interface OutgoingMessage {
  to?: string[];
  all?: boolean;
  channel?: string;
  subject: string;
  body?: string;
  /**
   * Files declared with the message (declareFile() gives size and sha256): the reply lists their
   * ids and the message pops up once each is uploaded (uploadFile(); sendMessage() does both).
   */
  attachments?: Declaration[];
  // --- alerts (docs/PROTOCOL.md §Alerts)
  /** Default 'normal'. */
  priority?: Priority;
  /** Ask each recipient to acknowledge; 'urgent' implies it unless false. */
  ack?: boolean;
  /** Automatic reminders to non-acknowledgers, every this long (`15m`, or seconds). */
  remindEvery?: string | number;
  /** The most automatic reminders (server default 8). */
  remindMax?: number;
  /** When it expires: an ISO time or a duration from now (`2h`). */
  expires?: string;
  /** Scheduled delivery: an ISO time or a duration from now (`30m`). */
  at?: string;
  /** Recall this message of yours and send this one as its correction. */
  replaces?: number;
}

/** Which registration requests PENDING lists. */
export type RegistrationFilter = 'pending' | 'approved' | 'rejected' | 'expired' | 'all';
/** Which queued mail MAILQUEUE lists. */
export type MailFilter = 'unsent' | 'failed' | 'all';

export interface Page {
  /** At most this many (the server's default 50, at most 500). */
  limit?: number;
  /** Only those with an id below this one: the next page. */
  before?: number;
}

export interface InboxPage {
  /** Newest first. */
  messages: MessageRecord[];
  count: number;
  /** Unread messages in the whole inbox. */
  unread: number;
}

export interface ChannelSettings {
  description?: string;
  access?: ChannelAccess;
  publish?: PublishPolicy;
}

export interface SubscriptionReply {
  name: string;
  subscribed: boolean;
  /** False when it already was (or was not) subscribed. */
  changed: boolean;
}

export interface AuditFilter {
  /** e.g. login_failed, registration_approved, member_suspended. */
  kind?: string;
  /** Events about or by this member. */
  member?: string;
  /** Events done by this user. */
  actor?: string;
  subject?: string;
  /** An ISO time or an age (30m, 24h, 7d). */
  since?: string;
  until?: string;
}

// --- pushes

/** The server's pushes as typed events; 'push' carries every one as it came. */
export interface PushEvents {
  push: [event: string, args: Args];
  hello: [hello: ServerHello];
  popup: [popup: PopupRecord];
  read: [receipt: ReadReceipt];
  /** A recipient acknowledged a message this member sent. */
  ack: [receipt: AckReceipt];
  /** A message this member received was recalled: replace its popup with a withdrawn notice. */
  recalled: [notice: RecallNotice];
  decision: [decision: Decision];
  subscription: [change: SubscriptionChange];
  uploaded: [upload: Uploaded];
  downloaded: [download: Downloaded];
  sent: [notice: SentNotice];
  sendFailed: [failure: SendFailed];
  transferFailed: [failure: TransferFailed];
  // administrators
  registration: [request: RegistrationRecord];
  decided: [decided: Decided];
  mail: [mail: MailEvent];
  backup: [job: BackupStatus];
  channel: [change: ChannelChange];
  group: [change: GroupChange];
  loginAlert: [alert: LoginAlert];
}

type TypedPush = Exclude<keyof PushEvents, 'push'>;

/** Push name on the wire → typed event and its decoder. */
const PUSHES: Record<string, { [K in TypedPush]: [event: K, decode: (a: Args) => PushEvents[K][0]] }[TypedPush]> = {
  HELLO: ['hello', argsToHello],
  POPUP: ['popup', argsToPopup],
  READ: ['read', argsToReadReceipt],
  ACK: ['ack', argsToAckReceipt],
  RECALLED: ['recalled', argsToRecallNotice],
  DECISION: ['decision', argsToDecision],
  SUBSCRIPTION: ['subscription', argsToSubscription],
  UPLOADED: ['uploaded', argsToUploaded],
  DOWNLOADED: ['downloaded', argsToDownloaded],
  SENT: ['sent', argsToSentNotice],
  SEND_FAILED: ['sendFailed', argsToSendFailed],
  TRANSFER_FAILED: ['transferFailed', argsToTransferFailed],
  REGISTRATION: ['registration', argsToRegistration],
  DECIDED: ['decided', argsToDecided],
  MAIL: ['mail', argsToMailEvent],
  BACKUP: ['backup', argsToBackupStatus],
  CHANNEL: ['channel', argsToChannelChange],
  GROUP: ['group', argsToGroupChange],
  LOGIN_ALERT: ['loginAlert', argsToLoginAlert],
};

type Send = (verb: string, args?: ArgInput) => Promise<Reply>;

/**
 * The typed calls over any `request(verb, args)`. Subclasses provide the requests (with their
 * session token) and feed each push to deliverPush().
 */
export abstract class SiarCalls<E extends PushEvents & Record<keyof E, any[]> = PushEvents> extends EventEmitter<E> {
  /** The administrator's calls (FORBIDDEN for members). */
  readonly admin = new AdminCalls((verb, args) => this.request(verb, args));

  /**
   * Sends one request as it is written (verb and key=value arguments) with the session token, and
   * resolves with its OK and ITEM rows: for verbs this client has no method for.
   */
  abstract request(verb: string, args?: ArgInput): Promise<Reply>;

  /** A request without a token: PING and LOGIN must not fail over a token the server forgot. */
  protected abstract requestWithoutToken(verb: string, args?: ArgInput): Promise<Reply>;

  /** Emits a push as 'push' and as its typed event (decoded only when someone listens). */
  protected deliverPush(event: string, args: Args): void {
    const emitter = this as unknown as EventEmitter<PushEvents>;
    emitter.emit('push', event, args);
    // Own keys only: a push named like an Object property ("constructor") is no typed event.
    const typed = Object.hasOwn(PUSHES, event) ? PUSHES[event] : undefined;
    if (typed && emitter.listenerCount(typed[0]) > 0) {
      const [name, decode] = typed;
      (emitter.emit as (e: string, v: unknown) => boolean).call(emitter, name, decode(args));
    }
  }

  /** LOGIN: the verb for the subclasses' own login(), which keep the token. */
  protected async loginRequest(username: string, password: string, options: { popups?: boolean } = {}): Promise<LoginInfo> {
    return argsToLoginInfo((await this.requestWithoutToken('LOGIN', { username, password, popups: options.popups === false ? 0 : undefined })).args);
  }

  /**
   * RESUME: re-attaches this connection to an open session by its token, without the password (after
   * a reconnect, on any node of a cluster); for the subclasses' own resume(), which keep the token.
   * Missed popups follow as after LOGIN. BAD_TOKEN: unknown or closed; TOKEN_EXPIRED: log in again.
   */
  protected async resumeRequest(token: string, options: { popups?: boolean } = {}): Promise<LoginInfo> {
    const info = argsToLoginInfo((await this.requestWithoutToken('RESUME', { token, popups: options.popups === false ? 0 : undefined })).args);
    info.token = token;
    return info;
  }

  // --- anyone

  async ping(): Promise<void> {
    await this.requestWithoutToken('PING');
  }

  /** Every command with its access and arguments. */
  async help(): Promise<CommandHelp[]> {
    return (await this.request('HELP')).items.map(argsToCommandHelp);
  }

  /** Asks the server to close the connection after its reply. */
  async quit(): Promise<void> {
    await this.request('QUIT');
  }

  /** Asks to become a member; the administrator decides (with `wait`, a 'decision' event says how). */
  async register(r: RegistrationInput): Promise<RegisterReply> {
    return argsToRegisterReply((await this.request('REGISTER', {
      institution: r.institution, contact: r.contact, email: r.email, phone: r.phone, address: r.address, username: r.username,
      wait: r.wait ? 1 : undefined,
    })).args);
  }

  // --- the member's account

  /** Ends the session on the server: its token is dead from now on. */
  async logout(): Promise<void> {
    await this.request('LOGOUT');
  }

  async whoami(): Promise<WhoAmI> {
    return argsToWhoAmI((await this.request('WHOAMI')).args);
  }

  /** Sets a new password (10 characters or more); the member's other sessions are closed. */
  async changePassword(oldPassword: string, newPassword: string): Promise<{ sessionsClosed: number }> {
    const a = (await this.request('PASSWD', { old: oldPassword, new: newPassword })).args;
    return withWire({ sessionsClosed: Number(a.get('sessionsClosed') ?? 0) || 0 }, a);
  }

  // --- messages

  /** Stores the message and pops it up at every recipient (after its attachments, if it declares any). */
  async send(m: OutgoingMessage): Promise<SendReply> {
    return argsToSendReply((await this.request('SEND', {
      to: m.to, all: m.all ? 1 : undefined, channel: m.channel, subject: m.subject, body: m.body ?? '',
      attach: m.attachments?.map(encodeDeclaration),
      priority: m.priority, ack: m.ack === undefined ? undefined : m.ack ? 1 : 0, remind: m.remindEvery, remindMax: m.remindMax,
      expires: m.expires, at: m.at, replaces: m.replaces,
    })).args);
  }

  // --- alerts (docs/PROTOCOL.md §Alerts)

  /** Acknowledges a message received (the sender gets an 'ack' event). */
  async ack(id: number): Promise<AckReply> {
    return argsToAckReply((await this.request('ACK', { id })).args);
  }

  /** Every recipient's delivered/read/acknowledged state of a message sent (sender or administrator). */
  async report(id: number): Promise<Report> {
    const r = await this.request('REPORT', { id });
    return argsToReport(r.args, r.items);
  }

  /** Pops the message up again at every recipient that has not acknowledged it. */
  async remind(id: number): Promise<RemindReply> {
    return argsToRemindReply((await this.request('REMIND', { id })).args);
  }

  /** Withdraws a message sent (sender or administrator): recipients see it withdrawn, with the reason. */
  async recall(id: number, reason?: string): Promise<RecallReply> {
    return argsToRecallReply((await this.request('RECALL', { id, reason })).args);
  }

  async inbox(page: Page & { unread?: boolean } = {}): Promise<InboxPage> {
    const r = await this.request('INBOX', { limit: page.limit, before: page.before, unread: page.unread ? 1 : undefined });
    return withWire({ messages: r.items.map(argsToMessage), count: Number(r.args.get('count') ?? 0) || 0, unread: Number(r.args.get('unread') ?? 0) || 0 }, r.args);
  }

  /** Sent messages, newest first, each with its recipients' delivered and read state. */
  async outbox(page: Page = {}): Promise<MessageRecord[]> {
    return (await this.request('OUTBOX', { limit: page.limit, before: page.before })).items.map(argsToMessage);
  }

  /** Opens a message (for a recipient, marks it read). */
  async read(id: number): Promise<MessageRecord> {
    return argsToMessage((await this.request('READ', { id })).args);
  }

  /** Removes a message from the caller's inbox. */
  async deleteMessage(id: number): Promise<void> {
    await this.request('DELETE', { id });
  }

  /** Members (then channels, then groups) to address; `kind` for one sort only. */
  async directory(kind?: DirectoryEntry['kind']): Promise<DirectoryEntry[]> {
    return (await this.request('DIRECTORY', { kind })).items.map(argsToDirectoryEntry);
  }

  // --- attachments (transfer.ts drives the data connections)

  /** A shadow listener for one declared attachment; resumes a partial upload unless `restart`. */
  async openUpload(a: { messageId: number; attachmentId: number; restart?: boolean }): Promise<TransferOffer> {
    return argsToOffer((await this.request('UPLOAD', { message: a.messageId, attachment: a.attachmentId, restart: a.restart ? 1 : undefined })).args);
  }

  /** A shadow listener that sends one attachment from `offset`. */
  async openDownload(a: { messageId: number; attachmentId: number; offset?: number }): Promise<TransferOffer> {
    return argsToOffer((await this.request('DOWNLOAD', { message: a.messageId, attachment: a.attachmentId, offset: a.offset })).args);
  }

  /** Gives up a message still waiting for its attachments: nobody will see it. */
  async cancel(id: number): Promise<{ id: number; state: string }> {
    const a = (await this.request('CANCEL', { id })).args;
    return withWire({ id: Number(a.get('id') ?? id), state: a.get('state') ?? 'cancelled' }, a);
  }

  // --- channels and groups

  /** Channels the caller can see, with its standing in each; archived ones too if asked. */
  async channels(opts: { archived?: boolean } = {}): Promise<ChannelRecord[]> {
    return (await this.request('CHANNELS', { archived: opts.archived ? 1 : undefined })).items.map(argsToChannel);
  }

  /** One channel; for an administrator also its roster (else []). */
  async channel(name: string): Promise<{ channel: ChannelRecord; roster: ChannelRosterEntry[] }> {
    const r = await this.request('CHANNEL', { name });
    return { channel: argsToChannel(r.args), roster: r.items.map(argsToRoster) };
  }

  async subscribe(name: string): Promise<SubscriptionReply> {
    return subscriptionReply((await this.request('SUBSCRIBE', { name })).args);
  }

  async unsubscribe(name: string): Promise<SubscriptionReply> {
    return subscriptionReply((await this.request('UNSUBSCRIBE', { name })).args);
  }

  /** Messages published to a channel, newest first. */
  async channelHistory(name: string, page: Page = {}): Promise<MessageRecord[]> {
    return (await this.request('CHANNEL_HISTORY', { name, limit: page.limit, before: page.before })).items.map(argsToMessage);
  }

  async groups(): Promise<GroupRecord[]> {
    return (await this.request('GROUPS')).items.map(argsToGroup);
  }

  /** One group and its institutions. */
  async group(name: string): Promise<{ group: GroupRecord; members: GroupMemberEntry[] }> {
    const r = await this.request('GROUP', { name });
    return { group: argsToGroup(r.args), members: r.items.map(argsToGroupMember) };
  }
}

function subscriptionReply(a: Args): SubscriptionReply {
  return withWire({ name: a.get('name') ?? '', subscribed: a.get('subscribed') === '1', changed: a.get('changed') === '1' }, a);
}

const count = (a: Args, key: string): number => Number(a.get(key) ?? 0) || 0;

/** The administrator's verbs (docs/PROTOCOL-admin.md, PROTOCOL-channels.md), as `client.admin`. */
export class AdminCalls {
  constructor(private readonly request: Send) {}

  // --- registrations and members

  /** Registration requests (pending by default). */
  async pending(opts: Page & { status?: RegistrationFilter } = {}): Promise<RegistrationRecord[]> {
    return (await this.request('PENDING', { status: opts.status, limit: opts.limit, before: opts.before })).items.map(argsToRegistration);
  }

  /** Creates the member and queues its credentials mail. */
  async approve(id: number): Promise<ApproveReply> {
    return argsToApproveReply((await this.request('APPROVE', { id })).args);
  }

  /** Refuses the request; the reason is mailed to the registrant. */
  async reject(id: number, reason: string): Promise<RejectReply> {
    return argsToRejectReply((await this.request('REJECT', { id, reason })).args);
  }

  /** Members, or those whose username, institution or e-mail holds `q`. */
  async members(opts: { q?: string } = {}): Promise<MemberRow[]> {
    return (await this.request('MEMBERS', { q: opts.q })).items.map(argsToMember);
  }

  /** Blocks a member; its sessions close at once. */
  async suspend(username: string): Promise<MemberChange> {
    return argsToMemberChange((await this.request('SUSPEND', { username })).args);
  }

  async reactivate(username: string): Promise<MemberChange> {
    return argsToMemberChange((await this.request('REACTIVATE', { username })).args);
  }

  /** Mails the member a new one-time password and closes its sessions. */
  async resetPassword(username: string): Promise<MemberChange> {
    return argsToMemberChange((await this.request('RESETPASSWORD', { username })).args);
  }

  /** Who is connected, from where, since when. */
  async online(): Promise<OnlineReply> {
    const r = await this.request('ONLINE');
    const note = r.args.get('partial') === '1' ? r.args.get('note') ?? 'Only this node\'s members are listed.' : undefined;
    return withWire({ users: r.items.map(argsToOnlineUser), count: count(r.args, 'count'), connections: count(r.args, 'connections'), ...(note ? { note } : {}) }, r.args);
  }

  /** Days after which pending requests expire; `days` sets it (until a restart), `run` expires old ones now. */
  async expiry(opts: { days?: number; run?: boolean } = {}): Promise<ExpiryReply> {
    return argsToExpiry((await this.request('EXPIRY', { days: opts.days, run: opts.run ? 1 : undefined })).args);
  }

  // --- operations

  /** Traffic totals and `minutes` of per-minute history. */
  async stats(opts: { minutes?: number } = {}): Promise<Stats> {
    const r = await this.request('STATS', { minutes: opts.minutes });
    return argsToStats(r.args, r.items);
  }

  /** Queued mail, newest first (unsent by default). */
  async mailQueue(opts: Page & { status?: MailFilter } = {}): Promise<MailRow[]> {
    return (await this.request('MAILQUEUE', { status: opts.status, limit: opts.limit, before: opts.before })).items.map(argsToMailRow);
  }

  /** One queued mail (NOT_FOUND when there is none). */
  async mail(id: number): Promise<MailRow | undefined> {
    return (await this.request('MAILQUEUE', { id })).items.map(argsToMailRow)[0];
  }

  /** Sends unsent mail now: one, or all. */
  async retryMail(id?: number): Promise<MailRetryReply> {
    return argsToMailRetry((await this.request('MAILRETRY', { id })).args);
  }

  /** The audit log, newest first. */
  async audit(filter: AuditFilter & Page = {}): Promise<AuditEvent[]> {
    return (await this.request('AUDIT', {
      kind: filter.kind, member: filter.member, actor: filter.actor, subject: filter.subject, since: filter.since, until: filter.until,
      limit: filter.limit, before: filter.before,
    })).items.map(argsToAuditEvent);
  }

  /** Starts an online backup ('backup' events follow it); with `wait`, resolves when it is done. */
  async backup(opts: { attachments?: 'list' | 'copy'; wait?: boolean } = {}): Promise<BackupStatus> {
    return argsToBackupStatus((await this.request('BACKUP', { attachments: opts.attachments, wait: opts.wait ? 1 : undefined })).args);
  }

  /** Past backups, newest first, and the one running. */
  async backups(): Promise<BackupList> {
    const r = await this.request('BACKUPS');
    const running = r.args.get('running');
    return withWire({
      backups: r.items.map(argsToBackupRow), dir: r.args.get('dir') ?? '',
      ...(running ? { running, percent: count(r.args, 'percent') } : {}),
    }, r.args);
  }

  /** Live shadow listeners and transfers. */
  async transfers(): Promise<LiveTransfer[]> {
    return (await this.request('TRANSFERS')).items.map(argsToLiveTransfer);
  }

  // --- channels and groups

  async createChannel(name: string, settings: ChannelSettings & { members?: string[]; publishers?: string[] } = {}): Promise<ChannelRecord> {
    return argsToChannel((await this.request('CHANNEL_CREATE', {
      name, description: settings.description, access: settings.access, publish: settings.publish,
      members: settings.members?.join(','), publishers: settings.publishers?.join(','),
    })).args);
  }

  /** Describes a channel or changes its rules; `dropped` counts subscriptions lost by restricting it. */
  async updateChannel(name: string, settings: ChannelSettings): Promise<{ channel: ChannelRecord; dropped: number }> {
    const r = await this.request('CHANNEL_UPDATE', { name, ...settings });
    return { channel: argsToChannel(r.args), dropped: count(r.args, 'dropped') };
  }

  /** Archives a channel (no new messages; history and subscriptions stay), or takes it back. */
  async archiveChannel(name: string, archived = true): Promise<ChannelRecord> {
    return argsToChannel((await this.request(archived ? 'CHANNEL_ARCHIVE' : 'CHANNEL_UNARCHIVE', { name })).args);
  }

  /** Names members (may join a restricted channel) or publishers; how many were new. */
  async grantChannel(name: string, usernames: string[], role: ChannelRole = 'member'): Promise<number> {
    return count((await this.request('CHANNEL_GRANT', { name, username: usernames.join(','), role })).args, 'added');
  }

  async revokeChannel(name: string, usernames: string[], role: ChannelRole = 'member'): Promise<{ revoked: number; dropped: number }> {
    const a = (await this.request('CHANNEL_REVOKE', { name, username: usernames.join(','), role })).args;
    return { revoked: count(a, 'revoked'), dropped: count(a, 'dropped') };
  }

  async createGroup(name: string, opts: { description?: string; members?: string[] } = {}): Promise<GroupRecord> {
    return argsToGroup((await this.request('GROUP_CREATE', { name, description: opts.description, members: opts.members?.join(',') })).args);
  }

  async describeGroup(name: string, description: string): Promise<GroupRecord> {
    return argsToGroup((await this.request('GROUP_UPDATE', { name, description })).args);
  }

  async deleteGroup(name: string): Promise<void> {
    await this.request('GROUP_DELETE', { name });
  }

  /** Adds institutions; how many were new. */
  async addToGroup(name: string, usernames: string[]): Promise<number> {
    return count((await this.request('GROUP_ADD', { name, username: usernames.join(',') })).args, 'added');
  }

  async removeFromGroup(name: string, usernames: string[]): Promise<number> {
    return count((await this.request('GROUP_REMOVE', { name, username: usernames.join(',') })).args, 'removed');
  }
}

/**
 * What the server's replies and pushes hold, as types, for those without a shared record type in
 * src/protocol (messages, popups, registrations, channels and groups have theirs there), and the
 * decoders from key=value arguments. Used by the typed client (calls.ts); no I/O here.
 *
 * Every decoded value remembers the arguments it came from (wireArgs): output that must show the
 * protocol's own view — `siar admin … --json`, the console's details boxes — prints those, so it
 * stays exactly what the server sent.
 */
import {
  Args, argsToChannel, argsToGroup, decodeAttachment, isErrorCode, isPriority,
  type AttachmentInfo, type Priority, type ChannelRecord, type ErrorCode, type GroupRecord, type MinuteSample, type TrafficTotals, type TransferProgress,
} from '../protocol/index.js';
import { argsToLiveTransfer as protocolLiveTransfer, type LiveTransfer } from '../protocol/index.js';

/** A reply to one request: its arguments and the rows of a list reply, in order. */
export interface Reply {
  args: Args;
  /** Rows of a list reply, in order. */
  items: Args[];
}

const WIRE = new WeakMap<object, Args>();

/** Remembers the arguments `value` was decoded from. */
function kept<T extends object>(value: T, args: Args): T {
  WIRE.set(value, args);
  return value;
}

/** The arguments a decoded reply, row or push came from, exactly as the server sent them. */
export function wireArgs(value: object): Args {
  const args = WIRE.get(value);
  if (!args) throw new Error('This value was not decoded from a server reply.');
  return args;
}

/** A number the server sent; 0 when absent or not a number. */
function num(a: Args, key: string): number {
  const n = Number(a.get(key) ?? 0);
  return Number.isFinite(n) ? n : 0;
}

/** A number that may be absent (left out of the record then, as the server left it out). */
function optionalNum(a: Args, key: string): number | undefined {
  return a.has(key) ? num(a, key) : undefined;
}

/** A text that may be empty or absent: null then. */
function orNull(a: Args, key: string): string | null {
  return a.get(key) || null;
}

const flag = (a: Args, key: string): boolean => a.get(key) === '1';

/** Copies the keys whose value is defined, so an absent field stays absent (and out of JSON). */
function defined<T extends object>(value: T): T {
  for (const k of Object.keys(value) as Array<keyof T>) if (value[k] === undefined) delete value[k];
  return value;
}

/** A catalogue code; a code this client does not know (a newer server's) reads as INTERNAL. */
export function errorCodeOf(code: string): ErrorCode {
  return isErrorCode(code) ? code : 'INTERNAL';
}

// --- connection and account

/** The greeting: who the server is and its limits. */
export interface ServerHello {
  server: string;
  protocol: number;
  /** Longest request frame in bytes. */
  maxFrame?: number;
  /** Longest message body and subject in characters. */
  maxBody?: number;
  maxSubject?: number;
}

export function argsToHello(a: Args): ServerHello {
  return kept(defined({
    server: a.get('server') ?? '', protocol: num(a, 'protocol'),
    maxFrame: positive(a.get('maxFrame')), maxBody: positive(a.get('maxBody')), maxSubject: positive(a.get('maxSubject')),
  }), a);
}

function positive(value: string | undefined): number | undefined {
  const n = Number(value);
  return value !== undefined && Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** One command of HELP. */
export interface CommandHelp {
  verb: string;
  access: string;
  usage: string;
}

export function argsToCommandHelp(a: Args): CommandHelp {
  return kept({ verb: a.get('verb') ?? '', access: a.get('access') ?? '', usage: a.get('usage') ?? '' }, a);
}

export interface LoginInfo {
  /** The session token: requests carry it (SiarClient and SiarSession keep it for you). */
  token: string;
  username: string;
  role: string;
  institution: string;
  expiresAt: string;
  /** Logged in with the mailed (one-time) password: changePassword() before anything else. */
  mustChangePassword: boolean;
  unread: number;
}

export function argsToLoginInfo(a: Args): LoginInfo {
  return kept({
    token: a.get('token') ?? '',
    username: a.get('username') ?? '',
    role: a.get('role') ?? 'member',
    institution: a.get('institution') ?? '',
    expiresAt: a.get('expiresAt') ?? '',
    mustChangePassword: flag(a, 'mustChangePassword'),
    unread: num(a, 'unread'),
  }, a);
}

export interface WhoAmI {
  username: string;
  role: string;
  institution: string;
  email: string;
  expiresAt: string;
  mustChangePassword: boolean;
}

export function argsToWhoAmI(a: Args): WhoAmI {
  return kept({
    username: a.get('username') ?? '', role: a.get('role') ?? '', institution: a.get('institution') ?? '',
    email: a.get('email') ?? '', expiresAt: a.get('expiresAt') ?? '', mustChangePassword: flag(a, 'mustChangePassword'),
  }, a);
}

export interface RegisterReply {
  /** The request id: the administrator approves or rejects it. */
  id: number;
  status: string;
  /** The server pushes the decision to this connection (register with `wait: true`). */
  waiting: boolean;
}

export function argsToRegisterReply(a: Args): RegisterReply {
  return kept({ id: num(a, 'id'), status: a.get('status') ?? 'pending', waiting: flag(a, 'waiting') }, a);
}

// --- messages

export interface SendReply {
  id: number;
  sentAt: string;
  /** How many members it went to; 0: stored, but it reached nobody (a channel without other subscribers). */
  recipients: number;
  audience: string;
  /** How it was addressed through a channel or groups (`#channel`, `@group,…`). */
  via?: string;
  /** 'sending' while declared attachments are not all uploaded (their popups wait), else 'sent'. */
  state: string;
  /** Until when the attachments may be uploaded (state 'sending'). */
  uploadDeadline?: string;
  /** The declared attachments with their ids, for uploadFile(). */
  attachments: AttachmentInfo[];
  // --- alerts (docs/PROTOCOL.md §Alerts)
  priority: Priority;
  ack: boolean;
  /** Automatic reminders every `remind` seconds, at most `remindMax`. */
  remind?: number;
  remindMax?: number;
  expiresAt?: string;
  /** Scheduled: it goes out at this time (state 'scheduled' until then). */
  deliverAt?: string;
  /** It recalled and corrects this message. */
  replaces?: number;
}

export function argsToSendReply(a: Args): SendReply {
  const priority = a.get('priority');
  return kept(defined({
    id: num(a, 'id'), sentAt: a.get('sentAt') ?? '', recipients: num(a, 'recipients'), audience: a.get('audience') ?? '',
    via: a.get('via') || undefined, state: a.get('state') ?? 'sent', uploadDeadline: a.get('uploadDeadline') || undefined,
    attachments: a.getAll('attachment').map(decodeAttachment).filter((x): x is AttachmentInfo => x !== null),
    priority: priority && isPriority(priority) ? priority : 'normal', ack: flag(a, 'ack'),
    remind: optionalNum(a, 'remind'), remindMax: optionalNum(a, 'remindMax'),
    expiresAt: a.get('expiresAt') || undefined, deliverAt: a.get('deliverAt') || undefined, replaces: optionalNum(a, 'replaces'),
  }), a);
}

// --- alerts (docs/PROTOCOL.md §Alerts)

/** ACK's reply. */
export interface AckReply {
  id: number;
  ackedAt: string;
  /** It had been acknowledged before: nothing changed, `ackedAt` is the first time. */
  already: boolean;
}

export function argsToAckReply(a: Args): AckReply {
  return kept({ id: num(a, 'id'), ackedAt: a.get('ackedAt') ?? '', already: flag(a, 'already') }, a);
}

/** One recipient's row of REPORT. */
export interface ReportRow {
  username: string;
  institution: string;
  deliveredAt: string | null;
  readAt: string | null;
  ackedAt: string | null;
  /** 'waiting' (not delivered yet), 'delivered', 'read' or 'acknowledged'. */
  state: string;
}

/** REPORT: every recipient's state, non-acknowledgers first, and the counts. */
export interface Report {
  id: number;
  rows: ReportRow[];
  recipients: number;
  delivered: number;
  read: number;
  acknowledged: number;
  notAcknowledged: number;
  /** Acknowledgement was asked for. */
  ack: boolean;
  priority: Priority;
  /** 'scheduled', 'recalled', 'expired' when it is; absent otherwise. */
  state?: string;
}

export function argsToReportRow(a: Args): ReportRow {
  return kept({
    username: a.get('username') ?? '', institution: a.get('institution') ?? '', deliveredAt: orNull(a, 'deliveredAt'),
    readAt: orNull(a, 'readAt'), ackedAt: orNull(a, 'ackedAt'), state: a.get('state') ?? '',
  }, a);
}

export function argsToReport(a: Args, items: Args[]): Report {
  const priority = a.get('priority');
  return kept(defined({
    id: num(a, 'id'), rows: items.map(argsToReportRow), recipients: num(a, 'recipients'), delivered: num(a, 'delivered'),
    read: num(a, 'read'), acknowledged: num(a, 'acknowledged'), notAcknowledged: num(a, 'notAcknowledged'), ack: flag(a, 'ack'),
    priority: priority && isPriority(priority) ? priority : 'normal', state: a.get('state') || undefined,
  }), a);
}

/** REMIND's reply. */
export interface RemindReply {
  id: number;
  /** Recipients that had not acknowledged: each gets the reminder. */
  reminded: number;
  /** Of those, reached at once (the rest at their next login). */
  online: number;
  /** Reminders of this message so far. */
  reminders: number;
}

export function argsToRemindReply(a: Args): RemindReply {
  return kept({ id: num(a, 'id'), reminded: num(a, 'reminded'), online: num(a, 'online'), reminders: num(a, 'reminders') }, a);
}

/** RECALL's reply. */
export interface RecallReply {
  id: number;
  recalledAt: string;
  /** Recipients that had not received it: they never will. */
  undelivered: number;
  /** Recipients online now, told with a 'recalled' event. */
  notified: number;
  /** It was recalled before: nothing changed. */
  already: boolean;
}

export function argsToRecallReply(a: Args): RecallReply {
  return kept({
    id: num(a, 'id'), recalledAt: a.get('recalledAt') ?? '', undelivered: num(a, 'undelivered'), notified: num(a, 'notified'),
    already: flag(a, 'already'),
  }, a);
}

/** `*|RECALLED`: a message this member received was withdrawn by its sender. */
export interface RecallNotice {
  id: number;
  reason: string;
  at: string;
  /** The correction that replaced it (SEND replaces=). */
  replacedBy?: number;
}

export function argsToRecallNotice(a: Args): RecallNotice {
  return kept(defined({ id: num(a, 'id'), reason: a.get('reason') ?? '', at: a.get('at') ?? '', replacedBy: optionalNum(a, 'replacedBy') }), a);
}

/** A shadow listener offered for one attachment (UPLOAD, DOWNLOAD). */
export interface TransferOffer {
  transfer: string;
  /** Where to connect: `host:port`. */
  addr: string;
  /** The one-time ticket, the data connection's first line. */
  ticket: string;
  expiresAt: string;
  /** Bytes the server already has (upload) or starts from (download). */
  offset: number;
  messageId: number;
  attachmentId: number;
  name: string;
  size: number;
  sha256: string;
  type: string;
}

export function argsToOffer(a: Args): TransferOffer {
  return kept({
    transfer: a.get('transfer') ?? '', addr: a.get('addr') ?? '', ticket: a.get('ticket') ?? '', expiresAt: a.get('expiresAt') ?? '',
    offset: num(a, 'offset'), messageId: num(a, 'message'), attachmentId: num(a, 'attachment'),
    name: a.get('name') ?? '', size: num(a, 'size'), sha256: a.get('sha256') ?? '', type: a.get('type') ?? '',
  }, a);
}

// --- pushes

/** `*|READ`: a recipient opened the caller's message. */
export interface ReadReceipt {
  id: number;
  by: string;
  at: string;
}

export function argsToReadReceipt(a: Args): ReadReceipt {
  return kept({ id: num(a, 'id'), by: a.get('by') ?? '', at: a.get('at') ?? '' }, a);
}

/** `*|ACK`: a recipient acknowledged the sender's message (the same shape as a read receipt). */
export type AckReceipt = ReadReceipt;
export const argsToAckReceipt = argsToReadReceipt;

/** `*|DECISION`: the administrator decided the registration request this connection waits for. */
export interface Decision {
  id: number;
  status: string;
  /** The new member's username (approved). */
  username?: string;
  /** Why it was rejected. */
  reason?: string;
}

export function argsToDecision(a: Args): Decision {
  return kept(defined({ id: num(a, 'id'), status: a.get('status') ?? '', username: a.get('username'), reason: a.get('reason') }), a);
}

/** `*|DECIDED` (administrators): a request was approved, rejected or expired. */
export interface Decided {
  id: number;
  status: string;
  username: string;
  /** The mail that tells the registrant, when there is one. */
  mailId?: number;
}

export function argsToDecided(a: Args): Decided {
  return kept(defined({ id: num(a, 'id'), status: a.get('status') ?? '', username: a.get('username') ?? '', mailId: optionalNum(a, 'mailId') }), a);
}

/** `*|MAIL` (administrators): queued mail went out or failed. */
export interface MailEvent {
  id: number;
  status: string;
  error?: string;
}

export function argsToMailEvent(a: Args): MailEvent {
  return kept(defined({ id: num(a, 'id'), status: a.get('status') ?? '', error: a.get('error') }), a);
}

/** `*|SUBSCRIPTION`: the member's subscription to a channel changed (by itself elsewhere, or by the administrator). */
export interface SubscriptionChange {
  name: string;
  subscribed: boolean;
  by: 'self' | 'admin';
}

export function argsToSubscription(a: Args): SubscriptionChange {
  return kept({ name: a.get('name') ?? '', subscribed: flag(a, 'subscribed'), by: a.get('by') === 'admin' ? 'admin' : 'self' }, a);
}

/** `*|CHANNEL` (administrators): a channel was created or changed (`change` says how). */
export type ChannelChange = ChannelRecord & { change: string };

export function argsToChannelChange(a: Args): ChannelChange {
  return kept({ change: a.get('change') ?? '', ...argsToChannel(a) }, a);
}

/** `*|GROUP` (administrators): a group was created, changed or deleted. */
export type GroupChange = GroupRecord & { change: string };

export function argsToGroupChange(a: Args): GroupChange {
  return kept({ change: a.get('change') ?? '', ...argsToGroup(a) }, a);
}

/** `*|LOGIN_ALERT` (administrators): many wrong passwords for one username from several addresses. */
export interface LoginAlert {
  username: string;
  failures: number;
  addresses: string[];
  since: string;
  windowMinutes: number;
}

export function argsToLoginAlert(a: Args): LoginAlert {
  return kept({
    username: a.get('username') ?? '', failures: num(a, 'failures'), addresses: (a.get('addresses') ?? '').split(',').filter(Boolean),
    since: a.get('since') ?? '', windowMinutes: num(a, 'windowMinutes'),
  }, a);
}

/** `*|UPLOADED`: an attachment this connection uploaded is stored (`sent`: the message went out with it). */
export interface Uploaded {
  transfer: string;
  messageId: number;
  attachmentId: number;
  size: number;
  sha256: string;
  type: string;
  missing: number;
  sent: boolean;
  /** All uploaded, but a scheduled message: the server holds it until its time. */
  held: boolean;
}

/** The upload verdict on the data connection holds the same fields. */
export function argsToUploaded(a: Args): Uploaded {
  return kept({
    transfer: a.get('transfer') ?? '', messageId: num(a, 'message'), attachmentId: num(a, 'attachment'), size: num(a, 'size'),
    sha256: a.get('sha256') ?? '', type: a.get('type') ?? '', missing: num(a, 'missing'), sent: flag(a, 'sent'),
    held: flag(a, 'held'),
  }, a);
}

/** `*|DOWNLOADED`: a download of this connection finished on the server's side. */
export interface Downloaded {
  transfer: string;
  messageId: number;
  attachmentId: number;
  bytes: number;
}

export function argsToDownloaded(a: Args): Downloaded {
  return kept({ transfer: a.get('transfer') ?? '', messageId: num(a, 'message'), attachmentId: num(a, 'attachment'), bytes: num(a, 'bytes') }, a);
}

/** `*|SENT`: a message that waited for its attachments went out. */
export interface SentNotice {
  id: number;
  sentAt: string;
  recipients: number;
}

export function argsToSentNotice(a: Args): SentNotice {
  return kept({ id: num(a, 'id'), sentAt: a.get('sentAt') ?? '', recipients: num(a, 'recipients') }, a);
}

/** `*|SEND_FAILED`: a message that waited for its attachments expired or was cancelled. */
export interface SendFailed {
  id: number;
  state: string;
}

export function argsToSendFailed(a: Args): SendFailed {
  return kept({ id: num(a, 'id'), state: a.get('state') ?? '' }, a);
}

/** `*|TRANSFER_FAILED`: a transfer of this connection failed on the server's side. */
export interface TransferFailed {
  transfer: string;
  direction: string;
  messageId: number;
  attachmentId: number;
  code: ErrorCode;
  reason: string;
}

export function argsToTransferFailed(a: Args): TransferFailed {
  return kept({
    transfer: a.get('transfer') ?? '', direction: a.get('direction') ?? '', messageId: num(a, 'message'),
    attachmentId: num(a, 'attachment'), code: errorCodeOf(a.get('code') ?? ''), reason: a.get('reason') ?? '',
  }, a);
}

// --- administration

export interface ApproveReply {
  id: number;
  status: string;
  /** The member created. */
  username: string;
  email: string;
  /** The credentials mail (waitForMail, MAIL pushes). */
  mailId: number;
}

export function argsToApproveReply(a: Args): ApproveReply {
  return kept({ id: num(a, 'id'), status: a.get('status') ?? '', username: a.get('username') ?? '', email: a.get('email') ?? '', mailId: num(a, 'mailId') }, a);
}

export interface RejectReply {
  id: number;
  status: string;
  mailId: number;
}

export function argsToRejectReply(a: Args): RejectReply {
  return kept({ id: num(a, 'id'), status: a.get('status') ?? '', mailId: num(a, 'mailId') }, a);
}

export interface MemberRow {
  username: string;
  institution: string;
  contact: string;
  email: string;
  phone: string;
  address: string;
  status: string;
  createdAt: string;
  lastLoginAt: string | null;
  lastLoginAddress: string | null;
  online: boolean;
  /** What its messages take on the server, against the quota (0: none). */
  storedBytes: number;
  quotaBytes: number;
  /** Messages sent in the last minute, against the sending rate (0: none). */
  sentLastMinute: number;
  maxSendsPerMinute: number;
}

export function argsToMember(a: Args): MemberRow {
  return kept({
    username: a.get('username') ?? '', institution: a.get('institution') ?? '', contact: a.get('contact') ?? '',
    email: a.get('email') ?? '', phone: a.get('phone') ?? '', address: a.get('address') ?? '', status: a.get('status') ?? '',
    createdAt: a.get('createdAt') ?? '', lastLoginAt: orNull(a, 'lastLoginAt'), lastLoginAddress: orNull(a, 'lastLoginAddress'),
    online: flag(a, 'online'), storedBytes: num(a, 'storedBytes'), quotaBytes: num(a, 'quotaBytes'),
    sentLastMinute: num(a, 'sentLastMinute'), maxSendsPerMinute: num(a, 'maxSendsPerMinute'),
  }, a);
}

/** SUSPEND, REACTIVATE and RESETPASSWORD: the member and what was closed. */
export interface MemberChange {
  username: string;
  status?: string;
  email?: string;
  mailId?: number;
  /** Sessions and live connections closed. */
  sessions?: number;
  connections?: number;
}

export function argsToMemberChange(a: Args): MemberChange {
  return kept(defined({
    username: a.get('username') ?? '', status: a.get('status'), email: a.get('email'), mailId: optionalNum(a, 'mailId'),
    sessions: optionalNum(a, 'sessions'), connections: optionalNum(a, 'connections'),
  }), a);
}

export interface OnlineUser {
  username: string;
  connections: number;
  /** When its first connection logged in. */
  since: string;
  /** The address of each connection. */
  addresses: string[];
}

export function argsToOnlineUser(a: Args): OnlineUser {
  return kept({ username: a.get('username') ?? '', connections: num(a, 'connections'), since: a.get('since') ?? '', addresses: a.getAll('address') }, a);
}

export interface OnlineReply {
  users: OnlineUser[];
  /** Users and connections in all. */
  count: number;
  connections: number;
  /** Set when the list is this node's only (the server cannot reach Redis): the server's sentence saying so. */
  note?: string;
}

/** One minute of STATS history (the last one still running: `partial`). */
export type TrafficMinute = MinuteSample;

export function argsToTrafficMinute(a: Args): TrafficMinute {
  return kept({
    at: a.get('at') ?? '', messages: num(a, 'messages'), popups: num(a, 'popups'), bytesIn: num(a, 'bytesIn'), bytesOut: num(a, 'bytesOut'),
    connectionsOpened: num(a, 'connectionsOpened'), connections: num(a, 'connections'), liveListeners: num(a, 'liveListeners'),
    transfers: num(a, 'transfers'), loopP99Ms: num(a, 'loopP99Ms'), loopMaxMs: num(a, 'loopMaxMs'), partial: flag(a, 'partial'),
    urgent: num(a, 'urgent'), freedBytes: num(a, 'freedBytes'),
  }, a);
}

function decodeTransferProgress(value: string): TransferProgress {
  const [id = '', direction = '', bytes = '0', size = '0', user = '', ...name] = value.split(',');
  return { id, direction, bytes: Number(bytes) || 0, size: Number(size) || 0, user, name: name.join(',') };
}

/** STATS: the totals since the server started, and: */
/** One node's counts since it started (STATS `node=`), or the sum of them all (`total=`). */
export interface NodeTraffic {
  node: string;
  messages: number;
  popups: number;
  bytesIn: number;
  bytesOut: number;
  connectionsOpened: number;
}

/** `messages,popups,bytesIn,bytesOut,connectionsOpened[,name]` (the name last: it may hold a comma). */
function decodeNodeTraffic(value: string, node?: string): NodeTraffic {
  const parts = value.split(',');
  const n = (i: number): number => Number(parts[i] ?? 0) || 0;
  return { node: node ?? parts.slice(5).join(','), messages: n(0), popups: n(1), bytesIn: n(2), bytesOut: n(3), connectionsOpened: n(4) };
}

export interface Stats extends TrafficTotals {
  /** Members logged in. */
  online: number;
  registrationExpiryDays: number;
  /** Acknowledgements asked for and not given (recipients × messages still open: not recalled or expired). */
  openAcks: number;
  /** Messages with at least one open acknowledgement. */
  openAckMessages: number;
  transfersInProgress: TransferProgress[];
  /** The node that answered (its other figures are this node's). */
  nodeId: string;
  /** Every node's counts since it started: this one's live, the others' as of their last completed minute. */
  nodes: NodeTraffic[];
  /** Their sum: the cluster's. */
  total: NodeTraffic;
  /** Per minute, oldest first, the running minute last. */
  minutes: TrafficMinute[];
}

export function argsToStats(a: Args, minutes: Args[]): Stats {
  return kept({
    startedAt: a.get('startedAt') ?? '', messages: num(a, 'messages'), popups: num(a, 'popups'), bytesIn: num(a, 'bytesIn'),
    bytesOut: num(a, 'bytesOut'), connectionsOpened: num(a, 'connectionsOpened'), connectionsClosed: num(a, 'connectionsClosed'),
    connections: num(a, 'connections'), liveListeners: num(a, 'liveListeners'), transfers: num(a, 'transfers'),
    loopP50Ms: num(a, 'loopP50Ms'), loopP99Ms: num(a, 'loopP99Ms'), loopMaxMs: num(a, 'loopMaxMs'), loopMaxEverMs: num(a, 'loopMaxEverMs'),
    online: num(a, 'online'), registrationExpiryDays: num(a, 'registrationExpiryDays'),
    urgent: num(a, 'urgent'), freedBytes: num(a, 'freedBytes'), openAcks: num(a, 'openAcks'), openAckMessages: num(a, 'openAckMessages'),
    transfersInProgress: a.getAll('transfer').map(decodeTransferProgress), minutes: minutes.map(argsToTrafficMinute),
    nodeId: a.get('nodeId') ?? '', nodes: a.getAll('node').map((v) => decodeNodeTraffic(v)), total: decodeNodeTraffic(a.get('total') ?? '', 'total'),
  }, a);
}

export interface MailRow {
  id: number;
  kind: string;
  to: string;
  subject: string;
  /** sent, failed (tried, with an error) or queued. */
  status: string;
  createdAt: string;
  attempts: number;
  nextAttemptAt: string | null;
  sentAt: string | null;
  lastError: string | null;
}

export function argsToMailRow(a: Args): MailRow {
  return kept({
    id: num(a, 'id'), kind: a.get('kind') ?? '', to: a.get('to') ?? '', subject: a.get('subject') ?? '', status: a.get('status') ?? 'queued',
    createdAt: a.get('createdAt') ?? '', attempts: num(a, 'attempts'), nextAttemptAt: orNull(a, 'nextAttemptAt'),
    sentAt: orNull(a, 'sentAt'), lastError: orNull(a, 'lastError'),
  }, a);
}

export interface MailRetryReply {
  /** Mail made due now. */
  count: number;
  id?: number;
}

export function argsToMailRetry(a: Args): MailRetryReply {
  return kept(defined({ count: num(a, 'count'), id: optionalNum(a, 'id') }), a);
}

export interface AuditEvent {
  id: number;
  at: string;
  kind: string;
  /** Who did it ('' when nobody was logged in). */
  actor: string;
  subject: string;
  address: string;
  /** The event's details, as the server recorded them. */
  detail: Record<string, unknown>;
}

export function argsToAuditEvent(a: Args): AuditEvent {
  return kept({
    id: num(a, 'id'), at: a.get('at') ?? '', kind: a.get('kind') ?? '', actor: a.get('actor') ?? '', subject: a.get('subject') ?? '',
    address: a.get('address') ?? '', detail: parseDetail(a.get('detail')),
  }, a);
}

function parseDetail(text: string | undefined): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(text || '{}');
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : { value: v };
  } catch {
    return { text };
  }
}

/** A backup job (BACKUP's reply, BACKUP pushes). */
export interface BackupStatus {
  name: string;
  /** running, done or failed. */
  status: string;
  phase: string;
  by: string;
  startedAt: string;
  totalPages: number;
  remainingPages: number;
  percent: number;
  error?: string;
  /** Once done: */
  file?: string;
  bytes?: number;
  messages?: number;
  members?: number;
  integrity?: string;
  attachments?: number;
  attachmentMode?: string;
  attachmentsMissing?: number;
  attachmentDir?: string;
}

export function argsToBackupStatus(a: Args): BackupStatus {
  return kept(defined({
    name: a.get('name') ?? '', status: a.get('status') ?? '', phase: a.get('phase') ?? '', by: a.get('by') ?? '',
    startedAt: a.get('startedAt') ?? '', totalPages: num(a, 'totalPages'), remainingPages: num(a, 'remainingPages'), percent: num(a, 'percent'),
    error: a.get('error'), file: a.get('file'), bytes: optionalNum(a, 'bytes'), messages: optionalNum(a, 'messages'),
    members: optionalNum(a, 'members'), integrity: a.get('integrity'), attachments: optionalNum(a, 'attachments'),
    attachmentMode: a.get('attachmentMode'), attachmentsMissing: optionalNum(a, 'attachmentsMissing'), attachmentDir: a.get('attachmentDir'),
  }), a);
}

/** A past backup (BACKUPS). */
export interface BackupRow {
  name: string;
  file: string;
  createdAt: string;
  bytes: number;
  messages?: number;
  members?: number;
  attachments?: number;
  attachmentMode?: string;
  integrity?: string;
}

export function argsToBackupRow(a: Args): BackupRow {
  return kept(defined({
    name: a.get('name') ?? '', file: a.get('file') ?? '', createdAt: a.get('createdAt') ?? '', bytes: num(a, 'bytes'),
    messages: optionalNum(a, 'messages'), members: optionalNum(a, 'members'), attachments: optionalNum(a, 'attachments'),
    attachmentMode: a.get('attachmentMode'), integrity: a.get('integrity'),
  }), a);
}

export interface BackupList {
  backups: BackupRow[];
  /** Where the backups are, on the server machine. */
  dir: string;
  /** The backup running now, and how far it is. */
  running?: string;
  percent?: number;
}

export interface ExpiryReply {
  /** Days after which pending requests expire (0: never). */
  days: number;
  /** Requests expired by this call (run). */
  expired: number;
  oldestPending?: string;
}

export function argsToExpiry(a: Args): ExpiryReply {
  return kept(defined({ days: num(a, 'days'), expired: num(a, 'expired'), oldestPending: a.get('oldestPending') || undefined }), a);
}

/** A live shadow listener or transfer (TRANSFERS): the record is src/protocol's (transfer-records.ts). */
export type { LiveTransfer } from '../protocol/index.js';

export function argsToLiveTransfer(a: Args): LiveTransfer {
  return kept(protocolLiveTransfer(a), a);
}

/** Keeps a reply made of rows and the OK's own fields. */
export function withWire<T extends object>(value: T, args: Args): T {
  return kept(value, args);
}

/** A decoder whose values remember the arguments they came from. */
export function keeping<T extends object>(decode: (a: Args) => T): (a: Args) => T {
  return (a) => kept(decode(a), a);
}

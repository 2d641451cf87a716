import { Args, type ArgInput } from './frames.js';

/**
 * How siar's records travel as key=value arguments (docs/PROTOCOL.md §Records), shared by the
 * server (to encode) and every client (to decode). Lists are repeated keys.
 */

export interface AttachmentInfo {
  id: number;
  name: string;
  size: number;
  sha256: string;
  type: string;
  /**
   * The sender's view of a message still being sent: bytes the server holds (all of them once
   * the upload committed). Travels as its own key, `uploaded=ID,BYTES`, beside `attachment=`.
   */
  uploaded?: number;
  /**
   * Its content was removed (its message expired longer ago than the server's grace): DOWNLOAD
   * answers ATTACHMENT_REMOVED. When, ISO 8601 UTC. Travels as `removed=ID,AT` beside `attachment=`.
   */
  removedAt?: string;
}

export interface RecipientInfo {
  username: string;
  deliveredAt: string | null;
  readAt: string | null;
  /** Through which channel or groups this recipient got it (`#channel`, `@group[,@group]`); absent when named directly. */
  via?: string;
}

export interface MessageRecord {
  id: number;
  from: string;
  to: string[];
  audience: string;
  subject: string;
  body: string;
  sentAt: string;
  attachments: AttachmentInfo[];
  /** Per-recipient state: present for the sender. */
  recipients?: RecipientInfo[];
  /** The reader's own state: present for a recipient. */
  deliveredAt?: string | null;
  readAt?: string | null;
  /** The sender's view: 'sending' until every attachment is uploaded, then 'sent' (or 'expired'/'cancelled'); 'scheduled' until its deliverAt, 'recalled'. */
  state?: string;
  /** The sender's view of a 'sending' message: when it expires unless its uploads complete (ISO 8601). */
  uploadDeadline?: string;
  /**
   * How it came (channel-records.ts parseVia): `#channel` or `@group[,@group]`. For a recipient,
   * through what it reached this recipient; for the sender, how it was addressed. Absent: named directly.
   */
  via?: string;
  // --- alerts (docs/PROTOCOL.md §Alerts); each absent when it does not apply
  /** 'high' or 'urgent'; absent: normal. */
  priority?: Priority;
  /** Acknowledgement was asked for. */
  ack?: boolean;
  /** The reader's own acknowledgement (present with ack for a recipient): when, or null. */
  ackedAt?: string | null;
  /** The sender's view: who acknowledged, and when. */
  acked?: Array<{ username: string; at: string }>;
  /** The sender's view: automatic reminders every `remind` seconds, at most `remindMax`; `reminders` went out so far. */
  remind?: number;
  remindMax?: number;
  reminders?: number;
  expiresAt?: string;
  /** It has expired. */
  expired?: boolean;
  /** Scheduled delivery time. */
  deliverAt?: string;
  /** Recalled (withdrawn): when, and why. */
  recalledAt?: string;
  recallReason?: string;
  /** This message corrects message `replaces`. */
  replaces?: number;
  /** This (recalled) message was replaced by message `replacedBy`. */
  replacedBy?: number;
}

export type Priority = 'normal' | 'high' | 'urgent';
export const PRIORITIES: readonly Priority[] = ['normal', 'high', 'urgent'];

export function isPriority(value: string): value is Priority {
  return (PRIORITIES as readonly string[]).includes(value);
}

/** The alert keys of a message record (absent when they do not apply). */
function alertArgs(m: MessageRecord, out: Record<string, ArgInput[string]>): void {
  if (m.priority && m.priority !== 'normal') out.priority = m.priority;
  if (m.ack) out.ack = 1;
  if (m.ackedAt !== undefined) out.ackedAt = m.ackedAt ?? '';
  if (m.acked && m.acked.length > 0) out.acked = m.acked.map((x) => `${x.username},${x.at}`);
  if (m.remind) { out.remind = m.remind; out.remindMax = m.remindMax; }
  if (m.reminders) out.reminders = m.reminders;
  if (m.expiresAt) out.expiresAt = m.expiresAt;
  if (m.expired) out.expired = 1;
  if (m.deliverAt) out.deliverAt = m.deliverAt;
  if (m.recalledAt) { out.recalledAt = m.recalledAt; out.recallReason = m.recallReason ?? ''; }
  if (m.replaces) out.replaces = m.replaces;
  if (m.replacedBy) out.replacedBy = m.replacedBy;
}

function argsToAlert(a: Args, m: MessageRecord): void {
  const priority = a.get('priority');
  if (priority && isPriority(priority) && priority !== 'normal') m.priority = priority;
  if (a.get('ack') === '1') m.ack = true;
  if (a.has('ackedAt')) m.ackedAt = a.get('ackedAt') || null;
  const acked = a.getAll('acked');
  if (acked.length > 0) {
    m.acked = acked.map((v) => { const i = v.indexOf(','); return { username: v.slice(0, i), at: v.slice(i + 1) }; });
  }
  const n = (key: string): number | undefined => { const v = Number(a.get(key)); return a.get(key) && Number.isSafeInteger(v) && v > 0 ? v : undefined; };
  if (n('remind')) { m.remind = n('remind'); m.remindMax = n('remindMax') ?? 0; }
  if (n('reminders')) m.reminders = n('reminders');
  if (a.get('expiresAt')) m.expiresAt = a.get('expiresAt')!;
  if (a.get('expired') === '1') m.expired = true;
  if (a.get('deliverAt')) m.deliverAt = a.get('deliverAt')!;
  if (a.get('recalledAt')) { m.recalledAt = a.get('recalledAt')!; m.recallReason = a.get('recallReason') ?? ''; }
  if (n('replaces')) m.replaces = n('replaces');
  if (n('replacedBy')) m.replacedBy = n('replacedBy');
}

/** An attachment as one value: `id,size,sha256,type,name` — the name last, so it may hold commas. */
export function encodeAttachment(a: AttachmentInfo): string {
  return `${a.id},${a.size},${a.sha256},${a.type},${a.name}`;
}

export function decodeAttachment(value: string): AttachmentInfo | null {
  const m = /^(\d+),(\d+),([0-9a-f]*),([^,]*),(.*)$/s.exec(value);
  if (!m) return null;
  return { id: Number(m[1]), size: Number(m[2]), sha256: m[3]!, type: m[4]!, name: m[5]! };
}

export function messageToArgs(m: MessageRecord): ArgInput {
  const out: Record<string, ArgInput[string]> = {
    id: m.id,
    from: m.from,
    to: m.to,
    audience: m.audience,
    subject: m.subject,
    sentAt: m.sentAt,
    body: m.body,
    attachment: m.attachments.map(encodeAttachment),
  };
  if (m.deliveredAt !== undefined) out.deliveredAt = m.deliveredAt ?? '';
  if (m.readAt !== undefined) out.readAt = m.readAt ?? '';
  if (m.state !== undefined) out.state = m.state;
  if (m.uploadDeadline) out.uploadDeadline = m.uploadDeadline;
  const uploaded = m.attachments.filter((a) => a.uploaded !== undefined).map((a) => `${a.id},${a.uploaded}`);
  if (uploaded.length > 0) out.uploaded = uploaded;
  const removed = m.attachments.filter((a) => a.removedAt).map((a) => `${a.id},${a.removedAt}`);
  if (removed.length > 0) out.removed = removed;
  if (m.via) out.via = m.via;
  if (m.recipients) {
    // rcpt=username,deliveredAt,readAt[,via] (empty when not yet; via last, as it may hold commas)
    out.rcpt = m.recipients.map((r) => `${r.username},${r.deliveredAt ?? ''},${r.readAt ?? ''}${r.via ? `,${r.via}` : ''}`);
  }
  alertArgs(m, out);
  return out;
}

export function argsToMessage(a: Args): MessageRecord {
  const m: MessageRecord = {
    id: Number(a.get('id') ?? 0),
    from: a.get('from') ?? '',
    to: a.getAll('to'),
    audience: a.get('audience') ?? 'direct',
    subject: a.get('subject') ?? '',
    body: a.get('body') ?? '',
    sentAt: a.get('sentAt') ?? '',
    attachments: a.getAll('attachment').map(decodeAttachment).filter((x): x is AttachmentInfo => x !== null),
  };
  if (a.has('deliveredAt')) m.deliveredAt = a.get('deliveredAt') || null;
  if (a.has('readAt')) m.readAt = a.get('readAt') || null;
  if (a.has('state')) m.state = a.get('state')!;
  if (a.get('uploadDeadline')) m.uploadDeadline = a.get('uploadDeadline')!;
  for (const v of a.getAll('uploaded')) {
    const [id, bytes] = v.split(',').map(Number);
    const attachment = m.attachments.find((x) => x.id === id);
    if (attachment && Number.isSafeInteger(bytes) && bytes! >= 0) attachment.uploaded = bytes!;
  }
  for (const v of a.getAll('removed')) {
    const comma = v.indexOf(',');
    const attachment = comma > 0 ? m.attachments.find((x) => x.id === Number(v.slice(0, comma))) : undefined;
    if (attachment && comma < v.length - 1) attachment.removedAt = v.slice(comma + 1);
  }
  if (a.get('via')) m.via = a.get('via')!;
  if (a.has('rcpt')) {
    m.recipients = a.getAll('rcpt').map((v) => {
      const [username = '', deliveredAt = '', readAt = '', ...via] = v.split(',');
      const r: RecipientInfo = { username, deliveredAt: deliveredAt || null, readAt: readAt || null };
      if (via.length > 0) r.via = via.join(',');
      return r;
    });
  }
  argsToAlert(a, m);
  return m;
}

/** The popup push: the notice, not the whole message. */
export interface PopupRecord {
  id: number;
  from: string;
  institution: string;
  subject: string;
  preview: string;
  sentAt: string;
  attachments: string[]; // names
  /** Through which channel or groups it came (`#channel`, `@group[,@group]`); '' when named directly. */
  via: string;
  // --- alerts (docs/PROTOCOL.md §Alerts)
  /** 'normal' when the push carries no priority. */
  priority?: Priority;
  /** The recipient is asked to acknowledge (ACK). */
  ack?: boolean;
  /** This push is the Nth reminder of a popup already shown. */
  reminder?: number;
  /** It corrects message `replaces` (which was recalled). */
  replaces?: number;
  expiresAt?: string;
}

export const PREVIEW_CHARS = 280;

/**
 * A popup's preview: the body when it has at most PREVIEW_CHARS characters, else its first
 * PREVIEW_CHARS - 1 and "…". Characters are code points, so an emoji is never cut in half.
 */
export function previewOf(body: string): string {
  if (body.length <= PREVIEW_CHARS) return body; // never more code points than code units
  let count = 0;
  let offset = 0;
  let cutAt = 0;
  for (const ch of body) {
    if (++count > PREVIEW_CHARS) return `${body.slice(0, cutAt)}…`;
    offset += ch.length;
    if (count === PREVIEW_CHARS - 1) cutAt = offset;
  }
  return body;
}

/**
 * The shortest start of `body` whose preview is body's own (its first PREVIEW_CHARS + 1 code
 * points): what a node needs of a body to show its popup, when the message travels to other nodes
 * with its wake-up and the full body stays in the store.
 */
export function bodyForPreview(body: string): string {
  if (body.length <= PREVIEW_CHARS + 1) return body;
  let count = 0;
  let offset = 0;
  for (const ch of body) {
    if (++count > PREVIEW_CHARS + 1) break;
    offset += ch.length;
  }
  return body.slice(0, offset);
}

export function popupToArgs(p: PopupRecord): ArgInput {
  return {
    id: p.id,
    from: p.from,
    institution: p.institution,
    subject: p.subject,
    preview: p.preview,
    sentAt: p.sentAt,
    attachments: p.attachments.length,
    attachment: p.attachments,
    via: p.via || undefined,
    priority: p.priority && p.priority !== 'normal' ? p.priority : undefined,
    ack: p.ack ? 1 : undefined,
    reminder: p.reminder || undefined,
    replaces: p.replaces || undefined,
    expiresAt: p.expiresAt || undefined,
  };
}

export function argsToPopup(a: Args): PopupRecord {
  return {
    id: Number(a.get('id') ?? 0),
    from: a.get('from') ?? '',
    institution: a.get('institution') ?? '',
    subject: a.get('subject') ?? '',
    preview: a.get('preview') ?? '',
    sentAt: a.get('sentAt') ?? '',
    attachments: a.getAll('attachment'),
    via: a.get('via') ?? '',
    ...popupAlert(a),
  };
}

function popupAlert(a: Args): Partial<PopupRecord> {
  const out: Partial<PopupRecord> = {};
  const priority = a.get('priority');
  out.priority = priority && isPriority(priority) ? priority : 'normal';
  if (a.get('ack') === '1') out.ack = true;
  const reminder = Number(a.get('reminder'));
  if (Number.isSafeInteger(reminder) && reminder > 0) out.reminder = reminder;
  const replaces = Number(a.get('replaces'));
  if (Number.isSafeInteger(replaces) && replaces > 0) out.replaces = replaces;
  if (a.get('expiresAt')) out.expiresAt = a.get('expiresAt')!;
  return out;
}

export interface RegistrationRecord {
  id: number;
  institution: string;
  contact: string;
  email: string;
  phone: string;
  address: string;
  username: string;
  status: string;
  reason: string | null;
  fromAddress: string | null;
  createdAt: string;
}

export function registrationToArgs(r: RegistrationRecord): ArgInput {
  return {
    id: r.id, institution: r.institution, contact: r.contact, email: r.email, phone: r.phone,
    address: r.address, username: r.username, status: r.status, reason: r.reason ?? undefined,
    fromAddress: r.fromAddress ?? undefined, createdAt: r.createdAt,
  };
}

export function argsToRegistration(a: Args): RegistrationRecord {
  return {
    id: Number(a.get('id') ?? 0),
    institution: a.get('institution') ?? '',
    contact: a.get('contact') ?? '',
    email: a.get('email') ?? '',
    phone: a.get('phone') ?? '',
    address: a.get('address') ?? '',
    username: a.get('username') ?? '',
    status: a.get('status') ?? '',
    reason: a.get('reason') ?? null,
    fromAddress: a.get('fromAddress') ?? null,
    createdAt: a.get('createdAt') ?? '',
  };
}

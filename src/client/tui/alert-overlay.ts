/**
 * Alerts in siar tui (issue 21, docs/PROTOCOL.md §Alerts): the urgent alert that covers the whole
 * screen over any screen (its keys: Enter opens, A acknowledges; Esc alone does not dismiss it),
 * acknowledging from a popup or the message screen, and how popups and messages show priority,
 * reminders, withdrawal, expiry, scheduling and the recipients' acknowledgements.
 */
import type { MessageRecord } from '../../protocol/index.js';
import { describe } from './describe.js';
import { clean, line, padEnd, shortTime, wrap, type Seg } from './format.js';
import type { TuiHost } from './host.js';
import type { Key } from './keys.js';
import type { ShownPopup, State } from './model.js';

/** How often an urgent alert rings the bell again until it is acknowledged or opened. */
export const ALERT_BELL_MS = 30_000;

/** Keys typed this soon after the alert appeared were meant for the screen beneath: ignored. */
export const ALERT_KEY_GRACE_MS = 1000;

/** Keys while an urgent alert covers the screen. */
export function alertKey(host: TuiHost, k: Key): void {
  const p = host.state.popups[0];
  if (!p || host.now() - host.state.alertSince < ALERT_KEY_GRACE_MS) return;
  if (k.name === 'enter' || k.name === 'o') {
    host.dispatch({ type: 'popup/dismiss' });
    if (host.state.me) host.openMessage(p.id, 'inbox');
  } else if (k.ch === 'a' || k.ch === 'A') {
    void acknowledge(host, p.id);
  } else if (k.name === 'escape' || k.name === 'x') {
    host.dispatch({ type: 'toast', text: 'An urgent alert stays until you open it (Enter) or acknowledge it (A).', kind: 'warning' });
  }
}

/** ACK: the sender learns it; the popups of that message go and the inbox says when. */
export async function acknowledge(host: TuiHost, id: number): Promise<void> {
  try {
    const r = await host.session.ack(id);
    host.dispatch({ type: 'acked', id, at: r.ackedAt || new Date(host.now()).toISOString() });
    host.dispatch({ type: 'toast', text: r.already ? `Message #${id} was already acknowledged.` : `Message #${id} acknowledged; the sender sees it.` });
  } catch (err) {
    host.dispatch({ type: 'toast', text: `Could not acknowledge message #${id}: ${describe(err)}`, kind: 'error' });
  }
}

/** Whether the member is asked to acknowledge `m` and has not yet (a received message). */
export function awaitsAck(m: MessageRecord | null | undefined): boolean {
  return !!m && !!m.ack && !m.ackedAt && !m.recalledAt && !m.expired;
}

/** The whole-screen urgent alert: sender, subject, body preview, attachments, keys. */
export function urgentAlertLines(state: State, p: ShownPopup, cols: number, rows: number): { title: string; lines: string[] } {
  const inner = Math.max(10, cols - 4);
  const out: string[] = [];
  out.push(line([{ t: ' URGENT ALERT ', s: 'white-fg,red-bg,bold' }, p.reminder ? { t: `  reminder ${p.reminder}`, s: 'yellow-fg,bold' } : ''], inner));
  out.push('');
  out.push(line([{ t: 'From:    ', s: 'bold' }, `${clean(p.from)}${p.institution ? ` — ${clean(p.institution)}` : ''}`], inner));
  const subject = wrap(clean(p.subject), inner - 9).slice(0, 2);
  subject.forEach((part, i) => out.push(line([{ t: i === 0 ? 'Subject: ' : ' '.repeat(9), s: 'bold' }, { t: part, s: 'bold' }], inner)));
  out.push(line([{ t: 'Sent:    ', s: 'bold' }, shortTime(p.sentAt), p.via ? `  via ${clean(p.via)}` : '', p.expiresAt ? `  expires ${shortTime(p.expiresAt)}` : ''], inner));
  if (p.replaces) out.push(line([{ t: `Corrects message #${p.replaces}, which was withdrawn.`, s: 'yellow-fg' }], inner));
  out.push('');
  const footer: string[] = [];
  if (p.attachments.length) {
    footer.push(line([{ t: `+ ${p.attachments.length} attachment${p.attachments.length > 1 ? 's' : ''}: `, s: 'cyan-fg' }, p.attachments.map(clean).join(', ')], inner));
  }
  footer.push('', line([{ t: p.ack ? 'The sender asks you to acknowledge it.' : 'Open or acknowledge it to stop the alert.', s: 'yellow-fg' }], inner));
  // The alert covers the status line: what it would say shows here.
  if (state.toast) footer.push(line([{ t: clean(state.toast.text), s: state.toast.kind === 'error' ? 'red-fg,bold' : 'cyan-fg' }], inner));
  footer.push(line([{ t: 'Enter', s: 'inverse' }, ' open  ', { t: 'A', s: 'inverse' }, ' acknowledge', state.popups.length > 1 ? `   (${state.popups.length - 1} more waiting)` : ''], inner));
  const room = Math.max(1, rows - 2 - out.length - footer.length);
  const preview = wrap(p.preview.trim() || '(no text)', inner);
  out.push(...preview.slice(0, room).map((l) => line([l], inner)));
  while (out.length < rows - 2 - footer.length) out.push('');
  return { title: ' URGENT ', lines: [...out, ...footer].slice(0, Math.max(1, rows - 2)) };
}

/** The title of a (not urgent) popup box. */
export function popupTitle(p: ShownPopup, queued: number): string {
  const what = p.withdrawn ? 'Withdrawn message' : p.reminder ? `Reminder ${p.reminder}` : p.priority === 'high' ? 'Important message'
    : p.priority === 'urgent' ? 'Urgent message' : 'New message';
  return ` ${what}${queued > 0 ? ` (1 of ${queued + 1})` : ''} `;
}

/** What a withdrawn popup says in place of its text. */
export function withdrawnLines(p: ShownPopup, inner: number): string[] {
  const w = p.withdrawn!;
  const lines = [line([{ t: 'The sender withdrew this message.', s: 'yellow-fg,bold' }], inner)];
  if (w.reason) lines.push(...wrap(`Reason: ${clean(w.reason)}`, inner).slice(0, 3).map((l) => line([l], inner)));
  if (w.replacedBy) lines.push(line([`A correction follows as message #${w.replacedBy}.`], inner));
  return lines;
}

/** The state marks of a list row: urgent/high, withdrawn, expired, scheduled, acknowledgement. */
export function rowMarks(m: MessageRecord, box: 'inbox' | 'outbox'): Seg[] {
  const segs: Seg[] = [];
  if (m.priority === 'urgent') segs.push({ t: '!! ', s: 'red-fg,bold' });
  else if (m.priority === 'high') segs.push({ t: '! ', s: 'yellow-fg,bold' });
  if (m.recalledAt) segs.push({ t: 'withdrawn ', s: 'yellow-fg' });
  else if (m.expired) segs.push({ t: 'expired ', s: 'cyan-fg' });
  else if (box === 'inbox' && awaitsAck(m)) segs.push({ t: 'ack? ', s: 'red-fg' });
  return segs;
}

/** The outbox's acknowledgement count: `ack 2/5`, '' when none was asked. */
export function ackSummary(m: MessageRecord): string {
  if (!m.ack || !m.recipients?.length) return '';
  return `ack ${ackedBy(m).size}/${m.recipients.length}`;
}

function ackedBy(m: MessageRecord): Map<string, string> {
  return new Map((m.acked ?? []).map((a) => [a.username, a.at]));
}

/** Message-screen lines for the alert fields (priority, expiry, schedule, withdrawal, the reader's ack). */
export function messageAlertLines(m: MessageRecord, box: 'inbox' | 'outbox', cols: number): string[] {
  const out: string[] = [];
  const label = (l: string, segs: Seg[]) => out.push(line([{ t: padEnd(` ${l}`, 10), s: 'bold' }, ...segs], cols));
  const marks: Seg[] = [];
  if (m.priority === 'urgent' || m.priority === 'high') marks.push({ t: m.priority, s: m.priority === 'urgent' ? 'red-fg,bold' : 'yellow-fg,bold' }, '  ');
  if (m.deliverAt) marks.push(`${m.state === 'scheduled' ? 'scheduled for' : 'delivered at'} ${shortTime(m.deliverAt)}  `);
  if (m.expiresAt) marks.push(m.expired ? { t: `expired ${shortTime(m.expiresAt)}`, s: 'cyan-fg' } : `expires ${shortTime(m.expiresAt)}`);
  if (marks.length) label('Alert:', marks);
  if (m.replaces) label('Corrects:', [`message #${m.replaces}`]);
  if (m.recalledAt) {
    label('Withdrawn:', [{ t: `${shortTime(m.recalledAt)}${m.recallReason ? ` — ${clean(m.recallReason)}` : ''}`, s: 'yellow-fg' }]);
    if (m.replacedBy) label('', [`corrected by message #${m.replacedBy}`]);
  }
  if (box === 'inbox' && m.ack) {
    label('Ack:', m.ackedAt ? [{ t: `acknowledged ${shortTime(m.ackedAt)}`, s: 'green-fg' }] : awaitsAck(m) ? [{ t: 'asked — press A to acknowledge', s: 'red-fg,bold' }] : ['asked']);
  }
  return out;
}

/** One recipient's state for the outbox detail: acknowledged, read, delivered or waiting. */
export function recipientState(m: MessageRecord, r: NonNullable<MessageRecord['recipients']>[number]): Seg {
  const acked = ackedBy(m).get(r.username);
  if (acked) return { t: `acknowledged ${shortTime(acked)}`, s: 'green-fg,bold' };
  const base = r.readAt ? { t: `read ${shortTime(r.readAt)}`, s: 'green-fg' }
    : r.deliveredAt ? { t: `delivered ${shortTime(r.deliveredAt)}`, s: 'cyan-fg' } : { t: 'waiting (offline)', s: 'yellow-fg' };
  return m.ack ? { t: `${base.t}, not acknowledged`, s: base.s } : base;
}

/** "3 of 5 have not acknowledged" for the outbox detail; '' when none was asked. */
export function notAckedLine(m: MessageRecord): string {
  if (!m.ack || !m.recipients?.length) return '';
  const n = m.recipients.length - ackedBy(m).size;
  return n === 0 ? 'Everyone acknowledged.' : `${n} of ${m.recipients.length} ${n === 1 ? 'has' : 'have'} not acknowledged.`;
}

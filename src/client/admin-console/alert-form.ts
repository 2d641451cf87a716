/**
 * The console's all-members alert (issue 21; the options of `siar admin send`, docs/PROTOCOL.md
 * §Alerts): subject, body, priority, acknowledgement, automatic reminders, expiry and scheduled
 * delivery, sent as `SEND all=1` by the administrator through the typed client.
 */
import type { OutgoingMessage } from '../calls.js';
import { count } from '../counts.js';
import { choiceInput, newForm, textInput, type FormState } from './form.js';
import type { ConsoleHost } from './host.js';
import { openForm, checkedSubmit } from './widgets.js';

/** `90`, `30s`, `15m`, `2h`, `7d` (the protocol's durations). */
const DURATION = /^\d+[smhd]?$/;
/** An ISO time with a zone, as the protocol takes it. */
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)$/;

export function alertForm(): FormState {
  return newForm('Alert to all members', [
    textInput('subject', 'Subject', { maxChars: 200 }),
    textInput('body', 'Text', { maxChars: 2000, hint: 'one paragraph; longer notices go through siar admin send --body-file' }),
    choiceInput('priority', 'Priority', ['urgent', 'high', 'normal'], { hint: 'urgent: a full-screen alert until acknowledged' }),
    choiceInput('ack', 'Acknowledge', ['as priority', 'ask', 'do not ask'], { hint: 'urgent asks unless "do not ask"' }),
    textInput('remind', 'Remind every', { hint: 'e.g. 15m; empty: no automatic reminders' }),
    textInput('expires', 'Expires', { hint: '2h, or an ISO time like 2026-12-24T17:00+08:00' }),
    textInput('at', 'Send at', { hint: 'empty: now; 30m, or an ISO time' }),
  ], { intro: ['Every member gets it as a popup; those offline at their next login.'] });
}

/** The form's own checks, by input name; null when it may go. */
export function checkAlert(v: Record<string, string>): Record<string, string> | null {
  const errors: Record<string, string> = {};
  if (!v.subject?.trim()) errors.subject = 'An alert needs a subject.';
  for (const name of ['remind', 'expires', 'at'] as const) {
    const value = v[name]?.trim() ?? '';
    if (value && !DURATION.test(value) && (name === 'remind' || !ISO_TIME.test(value))) {
      errors[name] = name === 'remind' ? 'A duration such as 15m or 1h.' : 'A duration such as 2h, or an ISO time with its zone.';
    }
  }
  const asks = v.ack === 'ask' || (v.ack === 'as priority' && v.priority === 'urgent');
  if (v.remind?.trim() && !asks) errors.remind = 'Reminders go to those who have not acknowledged: ask for acknowledgement.';
  return Object.keys(errors).length ? errors : null;
}

/** The message the form describes. */
export function alertMessage(v: Record<string, string>): OutgoingMessage {
  const opt = (name: string) => v[name]?.trim() || undefined;
  return {
    all: true, subject: v.subject!.trim(), body: v.body ?? '', priority: v.priority as OutgoingMessage['priority'],
    ack: v.ack === 'ask' ? true : v.ack === 'do not ask' ? false : undefined,
    remindEvery: opt('remind'), expires: opt('expires'), at: opt('at'),
  };
}

/** Opens the form and sends the alert; the status line says what went out. Inside host.withModal. */
export async function sendAlert(host: ConsoleHost): Promise<void> {
  let said = '';
  const done = await openForm(host.screen, alertForm(), checkedSubmit(checkAlert, async (v) => {
    const r = await host.session.send(alertMessage(v));
    said = r.deliverAt
      ? `alert #${r.id} scheduled for ${r.deliverAt} to ${count(r.recipients, 'member')}`
      : `alert #${r.id} (${r.priority}${r.ack ? ', acknowledgement asked' : ''}) sent to ${count(r.recipients, 'member')}`;
  }));
  if (done && said) host.say(said);
}

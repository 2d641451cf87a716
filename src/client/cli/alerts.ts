/**
 * `siar ack`, `siar report` (issue 21, docs/PROTOCOL.md §Alerts): acknowledging a message received,
 * and who has (not) acknowledged a message sent. Times are shown in the local time zone.
 */
import type { Argv, CommandModule } from 'yargs';
import type { MessageRecord, PopupRecord } from '../../protocol/index.js';
import type { Report } from '../replies.js';
import { wireArgs } from '../replies.js';
import { agree, count } from '../counts.js';
import { CliError, defineCommand, print, printJson, table, withClient, withLogin, type ClientOptions } from './common.js';

/** An ISO time as the local wall clock, `2026-12-07 09:30` (with the zone offset when asked). */
export function localTime(iso: string | null | undefined, withZone = false): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number) => String(n).padStart(2, '0');
  const base = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  if (!withZone) return base;
  const off = -d.getTimezoneOffset();
  return `${base} ${off >= 0 ? '+' : '-'}${p(Math.floor(Math.abs(off) / 60))}:${p(Math.abs(off) % 60)}`;
}

/** The priority and acknowledgement marks of a message or popup: `URGENT ack`, `high`, ''. */
export function alertMarks(m: Pick<MessageRecord, 'priority' | 'ack'> | Pick<PopupRecord, 'priority' | 'ack'>): string {
  const parts: string[] = [];
  if (m.priority === 'urgent') parts.push('URGENT');
  else if (m.priority === 'high') parts.push('high');
  if (m.ack) parts.push('ack');
  return parts.join(' ');
}

/** One CSV field (RFC 4180 quoting, lines ended by LF): quoted when it holds a comma, quote or line break; a leading =+-@ is defused for spreadsheets. */
function csvField(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}

function reportCsv(r: Report): string {
  const lines = [['username', 'institution', 'state', 'deliveredAt', 'readAt', 'ackedAt']];
  for (const row of r.rows) lines.push([row.username, row.institution, row.state, row.deliveredAt ?? '', row.readAt ?? '', row.ackedAt ?? '']);
  return lines.map((l) => l.map(csvField).join(',')).join('\n') + '\n';
}

function reportText(r: Report): string {
  const rows = r.rows.map((x) => [x.username, x.state, localTime(x.deliveredAt), localTime(x.readAt), localTime(x.ackedAt), x.institution]);
  const head = `Message ${r.id}${r.priority !== 'normal' ? ` (${r.priority})` : ''}: ${count(r.recipients, 'recipient')}, ${r.delivered} delivered, ${r.read} read, ${r.acknowledged} acknowledged\n`;
  const counts = r.ack
    ? (r.notAcknowledged === 0 ? 'Everyone has acknowledged.\n' : `${r.notAcknowledged} of ${r.recipients} ${agree(r.notAcknowledged, 'has', 'have')} not acknowledged.\n`)
    : 'No acknowledgement was asked for.\n';
  const tail = r.state === 'scheduled' ? `It is scheduled: nobody has it yet (siar read ${r.id} says when it goes out).\n`
    : r.state === 'recalled' ? `It was recalled: nobody gets it any more. ${counts}`
    : r.state === 'expired' ? `It has expired: nobody gets its popup any more. ${counts}` : counts;
  return head + table(rows, ['USERNAME', 'STATE', 'DELIVERED', 'READ', 'ACKNOWLEDGED', 'INSTITUTION']) + tail;
}

/** `Reminder 2 of message 7: 3 recipients have not acknowledged; 1 of them is online now.` */
function remindText(r: { id: number; reminders: number; reminded: number; online: number }): string {
  const online = r.reminded === 1 ? (r.online === 1 ? 'it is online now' : 'it is not online now') : `${r.online} of them ${agree(r.online, 'is', 'are')} online now`;
  return `Reminder ${r.reminders} of message ${r.id}: ${count(r.reminded, 'recipient')} ${agree(r.reminded, 'has', 'have')} not acknowledged; ${online}.\n`;
}

export const alertCommands: CommandModule<object, any>[] = [
  defineCommand({
    command: 'ack <id>',
    describe: 'acknowledge a message you received (its sender sees it)',
    builder: (y: Argv) => withLogin(y).positional('id', { type: 'number', demandOption: true }),
    handler: async (opts: ClientOptions & { id: number }) => {
      await withClient(opts, async (client) => {
        const r = await client.ack(opts.id);
        if (opts.json) printJson(wireArgs(r).toObject());
        else print(r.already ? `Message ${r.id} was already acknowledged at ${localTime(r.ackedAt, true)}.\n` : `Acknowledged message ${r.id}.\n`);
      });
    },
  }),
  defineCommand({
    command: 'report <id>',
    describe: 'who has received, read and acknowledged a message you sent, and who has not',
    builder: (y: Argv) => withLogin(y).positional('id', { type: 'number', demandOption: true })
      .option('csv', { type: 'boolean', describe: 'write the rows as CSV (for a spreadsheet)' }),
    handler: async (opts: ClientOptions & { id: number; csv?: boolean }) => {
      if (opts.csv && opts.json) throw new CliError('Give --json or --csv, not both.');
      await withClient(opts, async (client) => {
        const r = await client.report(opts.id);
        if (opts.json) {
          const { rows, ...counts } = r;
          printJson({ ...counts, rows: rows.map((x) => ({ ...x })) });
        } else if (opts.csv) print(reportCsv(r));
        else print(reportText(r));
      });
    },
  }),
  defineCommand({
    command: 'recall <id>',
    describe: 'withdraw a message you sent: nobody gets it any more, those who did see it withdrawn',
    builder: (y: Argv) => withLogin(y).positional('id', { type: 'number', demandOption: true })
      .option('reason', { type: 'string', describe: 'why (shown to the recipients, at most 200 characters)' }),
    handler: async (opts: ClientOptions & { id: number; reason?: string }) => {
      await withClient(opts, async (client) => {
        const r = await client.recall(opts.id, opts.reason);
        if (opts.json) printJson(wireArgs(r).toObject());
        else if (r.already) print(`Message ${r.id} was already recalled at ${localTime(r.recalledAt, true)}.\n`);
        else print(`Recalled message ${r.id}: ${count(r.undelivered, 'recipient')} will never get it, ${r.notified} online ${agree(r.notified, 'was', 'were')} told.\n`);
      });
    },
  }),
  defineCommand({
    command: 'remind <id>',
    describe: 'pop a message you sent up again at everyone who has not acknowledged it (offline ones at their next login)',
    builder: (y: Argv) => withLogin(y).positional('id', { type: 'number', demandOption: true }),
    handler: async (opts: ClientOptions & { id: number }) => {
      await withClient(opts, async (client) => {
        const r = await client.remind(opts.id);
        if (opts.json) printJson(wireArgs(r).toObject());
        else print(remindText(r));
      });
    },
  }),
];

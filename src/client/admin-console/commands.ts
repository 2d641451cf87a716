/**
 * The scriptable side of the admin console: `siar admin stats|mail-queue|mail-retry|audit|backup|
 * backups|reset-password|expiry|console`. Each prints a table for people, or one JSON object per
 * line with --json (docs/PROTOCOL-admin.md lists the fields).
 */
import type { Argv, CommandModule } from 'yargs';
import type { MailFilter } from '../calls.js';
import type { SiarClient } from '../connection.js';
import { count } from '../counts.js';
import { wireArgs, type MailEvent } from '../replies.js';
import { adminFallback, defineCommand, oneLine, print, printErr, printJson, table, type ClientOptions } from '../cli/common.js';
import { formatBytes, nodeTrafficLines, sparkline } from './format.js';

type AdminOpts = ClientOptions & { data: string };
type Builder = (y: Argv) => Argv<any>;
type Runner = (opts: AdminOpts, body: (c: SiarClient) => Promise<unknown>) => Promise<void>;

/** Rows as the server sent them: --json prints each one's fields, a table the chosen columns. */
function rows(records: object[], json: boolean, columns: string[], empty: string): void {
  const items = records.map(wireArgs);
  if (json) {
    for (const a of items) printJson(a.toObject());
    return;
  }
  if (items.length === 0) {
    print(`${empty}\n`);
    return;
  }
  print(table(items.map((a) => columns.map((c) => a.getAll(c).join(','))), columns.map((c) => c.toUpperCase())));
}

/**
 * Waits until queued mail `mailId` was sent or failed (the MAIL push, or MAILQUEUE for a mail that
 * went out before we asked); 'queued' when neither happened within `timeoutMs`.
 */
export async function waitForMail(c: SiarClient, mailId: number, timeoutMs = 30_000): Promise<{ status: string; error: string | undefined }> {
  let onMail: ((m: MailEvent) => void) | undefined;
  const pushed = new Promise<{ status: string; error: string | undefined }>((resolve) => {
    onMail = (m) => {
      if (m.id === mailId) resolve({ status: m.status || 'queued', error: m.error });
    };
    c.on('mail', onMail);
  });
  try {
    const row = await c.admin.mail(mailId);
    const status = row?.status ?? 'queued';
    if (status !== 'queued') return { status, error: row?.lastError ?? undefined };
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<{ status: string; error: undefined }>((resolve) => {
      timer = setTimeout(() => resolve({ status: 'queued', error: undefined }), timeoutMs);
    });
    try {
      return await Promise.race([pushed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  } finally {
    if (onMail) c.off('mail', onMail);
  }
}

export function adminOpsSubcommands(adminOptions: Builder, run: Runner): CommandModule<object, any>[] {
  return [
    defineCommand({
      command: 'stats',
      describe: 'traffic: messages, urgent alerts and open acknowledgements, popups, bytes, connections, shadow listeners, transfers, event-loop lateness, space freed',
      builder: (y: Argv) => adminOptions(y).option('minutes', { type: 'number', default: 15, describe: 'minutes of history' }),
      handler: (opts: AdminOpts & { minutes: number }) => run(opts, async (c) => {
        const s = await c.admin.stats({ minutes: opts.minutes });
        if (opts.json) {
          printJson({ ...wireArgs(s).toObject(), minutes: s.minutes.map((m) => wireArgs(m).toObject()) });
          return;
        }
        const perMinute = s.minutes.map((m) => m.messages);
        const lines = [
          `since ${s.startedAt}`,
          `messages   ${s.messages}   (per minute: ${sparkline(perMinute)} ${perMinute.join(' ')})`,
          `urgent     ${s.urgent} sent; open acknowledgements ${s.openAcks} (on ${count(s.openAckMessages, 'message')})`,
          `popups     ${s.popups}`,
          `bytes      in ${formatBytes(s.bytesIn)}, out ${formatBytes(s.bytesOut)}`,
          `connections ${s.connections} open (${s.connectionsOpened} opened), ${s.online} member(s) online`,
          `transfers  ${s.transfers} in progress, ${s.liveListeners} shadow listener(s)`,
          `freed      ${formatBytes(s.freedBytes)} of expired attachments removed`,
          `loop late  p50 ${s.loopP50Ms} ms, p99 ${s.loopP99Ms} ms, max ${s.loopMaxMs} ms this minute; worst since start ${s.loopMaxEverMs} ms`,
        ];
        for (const t of s.transfersInProgress) lines.push(`  ${oneLine([t.id, t.direction, t.bytes, t.size, t.user, t.name].join(','))}`);
        const nodes = nodeTrafficLines(s);
        if (nodes.length > 0) lines.push('', `${s.nodes.length} nodes, each since it started (* ${oneLine(s.nodeId)}, whose figures are above):`, ...nodes);
        print(lines.join('\n') + '\n');
      }),
    }),
    defineCommand({
      command: 'mail-queue',
      describe: 'unsent and failed mail with its error (--status all for sent mail too)',
      builder: (y: Argv) => adminOptions(y)
        .option('status', { type: 'string', default: 'unsent', choices: ['unsent', 'failed', 'all'] })
        .option('limit', { type: 'number', default: 100 }),
      handler: (opts: AdminOpts & { status: MailFilter; limit: number }) => run(opts, async (c) => {
        rows(await c.admin.mailQueue({ status: opts.status, limit: opts.limit }), !!opts.json, ['id', 'status', 'kind', 'to', 'attempts', 'nextAttemptAt', 'lastError'], `(no ${opts.status} mail)`);
      }),
    }),
    defineCommand({
      command: 'mail-retry [id]',
      describe: 'send unsent mail now (one by id, or all)',
      builder: (y: Argv) => adminOptions(y).positional('id', { type: 'number' }),
      handler: (opts: AdminOpts & { id?: number }) => run(opts, async (c) => {
        const r = await c.admin.retryMail(opts.id);
        if (opts.json) printJson(wireArgs(r).toObject());
        else print(`${r.count} mail(s) made due now\n`);
      }),
    }),
    defineCommand({
      command: 'audit',
      describe: 'the audit log, newest first: approvals, rejections, suspensions, failed logins, admin actions…',
      builder: (y: Argv) => adminOptions(y)
        .option('kind', { type: 'string', describe: 'e.g. login_failed, registration_approved, member_suspended' })
        .option('member', { type: 'string', describe: 'events about or by this member' })
        .option('actor', { type: 'string', describe: 'events done by this user' })
        .option('subject', { type: 'string' })
        .option('since', { type: 'string', describe: 'ISO time or an age: 30m, 24h, 7d' })
        .option('until', { type: 'string', describe: 'ISO time or an age' })
        .option('limit', { type: 'number', default: 100 }),
      handler: (opts: AdminOpts & { kind?: string; member?: string; actor?: string; subject?: string; since?: string; until?: string; limit: number }) =>
        run(opts, async (c) => {
          const events = await c.admin.audit({
            kind: opts.kind, member: opts.member, actor: opts.actor, subject: opts.subject, since: opts.since, until: opts.until, limit: opts.limit,
          });
          if (opts.json) {
            for (const e of events) printJson({ ...wireArgs(e).toObject(), id: e.id, detail: e.detail });
            return;
          }
          rows(events, false, ['id', 'at', 'kind', 'actor', 'subject', 'address', 'detail'], '(no events)');
        }),
    }),
    defineCommand({
      command: 'backup',
      describe: 'online backup of the database into <data>/backups/ while the server keeps serving',
      builder: (y: Argv) => adminOptions(y).option('attachments', {
        type: 'string', default: 'list', choices: ['list', 'copy'], describe: 'copy the attachment files too, or only list them',
      }),
      handler: (opts: AdminOpts & { attachments: 'list' | 'copy' }) => run(opts, async (c) => {
        let name = '';
        let shown = -1;
        c.on('backup', (job) => {
          if (opts.json || (name && job.name !== name)) return;
          if (job.status === 'running' && job.percent !== shown) {
            shown = job.percent;
            printErr(`backup ${job.name}: ${job.phase} ${job.percent}%\n`);
          }
        });
        const r = await c.admin.backup({ attachments: opts.attachments, wait: true });
        name = r.name;
        if (opts.json) {
          printJson(wireArgs(r).toObject());
          return;
        }
        const missing = r.attachmentsMissing ?? 0;
        print(
          `backup ${name} done: ${r.file} (${formatBytes(r.bytes ?? 0)}, ${r.messages} messages, ` +
            `${r.members} members, integrity ${r.integrity})\n` +
            `attachments: ${r.attachments} ${r.attachmentMode === 'copy' ? `copied to ${r.attachmentDir ?? '(none)'}` : 'listed in the manifest'}` +
            `${missing ? `, ${missing} missing` : ''}\n`,
        );
      }),
    }),
    defineCommand({
      command: 'backups',
      describe: 'past backups, newest first',
      builder: (y: Argv) => adminOptions(y),
      handler: (opts: AdminOpts) => run(opts, async (c) => {
        rows((await c.admin.backups()).backups, !!opts.json, ['name', 'createdAt', 'bytes', 'messages', 'members', 'attachments', 'file'], '(no backups)');
      }),
    }),
    defineCommand({
      command: 'reset-password <username>',
      describe: 'mail a member a new password (to change at next login); closes its sessions',
      builder: (y: Argv) => adminOptions(y).positional('username', { type: 'string' }),
      handler: (opts: AdminOpts & { username: string }) => run(opts, async (c) => {
        const r = await c.admin.resetPassword(opts.username);
        if (opts.json) printJson(wireArgs(r).toObject());
        else print(`password of ${r.username} reset; mail ${r.mailId} queued to ${r.email}; ${r.connections} connection(s) closed\n`);
      }),
    }),
    defineCommand({
      command: 'expiry',
      describe: 'days after which undecided registration requests expire; --run expires them now',
      builder: (y: Argv) => adminOptions(y)
        .option('days', { type: 'number', describe: 'set (until the server restarts; use siar server --registration-expiry-days to keep it)' })
        .option('run', { type: 'boolean', describe: 'expire old requests now' }),
      handler: (opts: AdminOpts & { days?: number; run?: boolean }) => run(opts, async (c) => {
        const r = await c.admin.expiry({ days: opts.days, run: opts.run });
        if (opts.json) printJson(wireArgs(r).toObject());
        else {
          print(`requests expire after ${r.days} day(s)${r.days === 0 ? ' (never)' : ''}` +
            `${opts.run ? `; ${r.expired} expired now` : ''}${r.oldestPending ? `; oldest pending since ${r.oldestPending}` : ''}\n`);
        }
      }),
    }),
    defineCommand({
      command: 'console',
      describe: 'the full-screen admin console: registrations, members, online, traffic, mail, audit, backups, channels, groups',
      builder: (y: Argv) => adminOptions(y),
      handler: async (opts: AdminOpts) => {
        const { runConsole } = await import('./app.js');
        await runConsole(opts, adminFallback(opts.data));
      },
    }),
  ];
}

/**
 * The scriptable side of the admin console: `siar admin stats|mail-queue|mail-retry|audit|backup|
 * backups|reset-password|expiry|console`. Each prints a table for people, or one JSON object per
 * line with --json (docs/PROTOCOL-admin.md lists the fields).
 */
import type { Argv, CommandModule } from 'yargs';
import type { Args } from '../../protocol/index.js';
import type { SiarClient } from '../connection.js';
import { adminFallback, defineCommand, oneLine, print, printErr, printJson, table, type ClientOptions } from '../cli/common.js';
import { formatBytes, sparkline } from './format.js';

type AdminOpts = ClientOptions & { data: string };
type Builder = (y: Argv) => Argv<any>;
type Runner = (opts: AdminOpts, body: (c: SiarClient) => Promise<unknown>) => Promise<void>;

function rows(items: Args[], json: boolean, columns: string[], empty: string): void {
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
  let onPush: ((event: string, a: Args) => void) | undefined;
  const pushed = new Promise<{ status: string; error: string | undefined }>((resolve) => {
    onPush = (event, a) => {
      if (event === 'MAIL' && a.get('id') === String(mailId)) resolve({ status: a.get('status') ?? 'queued', error: a.get('error') });
    };
    c.on('push', onPush);
  });
  try {
    const row = (await c.request('MAILQUEUE', { id: mailId })).items[0];
    const status = row?.get('status') ?? 'queued';
    if (status !== 'queued') return { status, error: row?.get('lastError') || undefined };
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
    if (onPush) c.off('push', onPush);
  }
}

export function adminOpsSubcommands(adminOptions: Builder, run: Runner): CommandModule<object, any>[] {
  return [
    defineCommand({
      command: 'stats',
      describe: 'traffic: messages, popups, bytes, connections, shadow listeners, transfers and event-loop lateness, per minute',
      builder: (y: Argv) => adminOptions(y).option('minutes', { type: 'number', default: 15, describe: 'minutes of history' }),
      handler: (opts: AdminOpts & { minutes: number }) => run(opts, async (c) => {
        const reply = await c.request('STATS', { minutes: opts.minutes });
        const a = reply.args;
        if (opts.json) {
          printJson({ ...a.toObject(), minutes: reply.items.map((m) => m.toObject()) });
          return;
        }
        const n = (k: string) => Number(a.get(k) ?? 0);
        const perMinute = reply.items.map((m) => Number(m.get('messages') ?? 0));
        const lines = [
          `since ${a.get('startedAt')}`,
          `messages   ${n('messages')}   (per minute: ${sparkline(perMinute)} ${perMinute.join(' ')})`,
          `popups     ${n('popups')}`,
          `bytes      in ${formatBytes(n('bytesIn'))}, out ${formatBytes(n('bytesOut'))}`,
          `connections ${n('connections')} open (${n('connectionsOpened')} opened), ${a.get('online')} member(s) online`,
          `transfers  ${n('transfers')} in progress, ${n('liveListeners')} shadow listener(s)`,
          `loop late  p50 ${n('loopP50Ms')} ms, p99 ${n('loopP99Ms')} ms, max ${n('loopMaxMs')} ms this minute; worst since start ${n('loopMaxEverMs')} ms`,
        ];
        for (const t of a.getAll('transfer')) lines.push(`  ${oneLine(t)}`);
        print(lines.join('\n') + '\n');
      }),
    }),
    defineCommand({
      command: 'mail-queue',
      describe: 'unsent and failed mail with its error (--status all for sent mail too)',
      builder: (y: Argv) => adminOptions(y)
        .option('status', { type: 'string', default: 'unsent', choices: ['unsent', 'failed', 'all'] })
        .option('limit', { type: 'number', default: 100 }),
      handler: (opts: AdminOpts & { status: string; limit: number }) => run(opts, async (c) => {
        const reply = await c.request('MAILQUEUE', { status: opts.status, limit: opts.limit });
        rows(reply.items, !!opts.json, ['id', 'status', 'kind', 'to', 'attempts', 'nextAttemptAt', 'lastError'], `(no ${opts.status} mail)`);
      }),
    }),
    defineCommand({
      command: 'mail-retry [id]',
      describe: 'send unsent mail now (one by id, or all)',
      builder: (y: Argv) => adminOptions(y).positional('id', { type: 'number' }),
      handler: (opts: AdminOpts & { id?: number }) => run(opts, async (c) => {
        const r = (await c.request('MAILRETRY', { id: opts.id })).args;
        if (opts.json) printJson(r.toObject());
        else print(`${r.get('count')} mail(s) made due now\n`);
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
          const reply = await c.request('AUDIT', {
            kind: opts.kind, member: opts.member, actor: opts.actor, subject: opts.subject, since: opts.since, until: opts.until, limit: opts.limit,
          });
          if (opts.json) {
            for (const a of reply.items) printJson({ ...a.toObject(), id: Number(a.get('id')), detail: JSON.parse(a.get('detail') ?? '{}') });
            return;
          }
          rows(reply.items, false, ['id', 'at', 'kind', 'actor', 'subject', 'address', 'detail'], '(no events)');
        }),
    }),
    defineCommand({
      command: 'backup',
      describe: 'online backup of the database into <data>/backups/ while the server keeps serving',
      builder: (y: Argv) => adminOptions(y).option('attachments', {
        type: 'string', default: 'list', choices: ['list', 'copy'], describe: 'copy the attachment files too, or only list them',
      }),
      handler: (opts: AdminOpts & { attachments: string }) => run(opts, async (c) => {
        let name = '';
        let shown = -1;
        c.on('push', (event, a) => {
          if (event !== 'BACKUP' || opts.json || (name && a.get('name') !== name)) return;
          const percent = Number(a.get('percent') ?? 0);
          if (a.get('status') === 'running' && percent !== shown) {
            shown = percent;
            printErr(`backup ${a.get('name')}: ${a.get('phase')} ${percent}%\n`);
          }
        });
        const r = (await c.request('BACKUP', { attachments: opts.attachments, wait: 1 })).args;
        name = r.get('name') ?? '';
        if (opts.json) {
          printJson(r.toObject());
          return;
        }
        const missing = Number(r.get('attachmentsMissing') ?? 0);
        print(
          `backup ${name} done: ${r.get('file')} (${formatBytes(Number(r.get('bytes') ?? 0))}, ${r.get('messages')} messages, ` +
            `${r.get('members')} members, integrity ${r.get('integrity')})\n` +
            `attachments: ${r.get('attachments')} ${r.get('attachmentMode') === 'copy' ? `copied to ${r.get('attachmentDir') ?? '(none)'}` : 'listed in the manifest'}` +
            `${missing ? `, ${missing} missing` : ''}\n`,
        );
      }),
    }),
    defineCommand({
      command: 'backups',
      describe: 'past backups, newest first',
      builder: (y: Argv) => adminOptions(y),
      handler: (opts: AdminOpts) => run(opts, async (c) => {
        const reply = await c.request('BACKUPS');
        rows(reply.items, !!opts.json, ['name', 'createdAt', 'bytes', 'messages', 'members', 'attachments', 'file'], '(no backups)');
      }),
    }),
    defineCommand({
      command: 'reset-password <username>',
      describe: 'mail a member a new password (to change at next login); closes its sessions',
      builder: (y: Argv) => adminOptions(y).positional('username', { type: 'string' }),
      handler: (opts: AdminOpts & { username: string }) => run(opts, async (c) => {
        const r = (await c.request('RESETPASSWORD', { username: opts.username })).args;
        if (opts.json) printJson(r.toObject());
        else print(`password of ${r.get('username')} reset; mail ${r.get('mailId')} queued to ${r.get('email')}; ${r.get('connections')} connection(s) closed\n`);
      }),
    }),
    defineCommand({
      command: 'expiry',
      describe: 'days after which undecided registration requests expire; --run expires them now',
      builder: (y: Argv) => adminOptions(y)
        .option('days', { type: 'number', describe: 'set (until the server restarts; use siar server --registration-expiry-days to keep it)' })
        .option('run', { type: 'boolean', describe: 'expire old requests now' }),
      handler: (opts: AdminOpts & { days?: number; run?: boolean }) => run(opts, async (c) => {
        const r = (await c.request('EXPIRY', { days: opts.days, run: opts.run ? 1 : undefined })).args;
        if (opts.json) printJson(r.toObject());
        else {
          print(`requests expire after ${r.get('days')} day(s)${r.get('days') === '0' ? ' (never)' : ''}` +
            `${opts.run ? `; ${r.get('expired')} expired now` : ''}${r.get('oldestPending') ? `; oldest pending since ${r.get('oldestPending')}` : ''}\n`);
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

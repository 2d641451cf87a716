import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import type { SiarClient } from '../connection.js';
import type { MessageRecord } from '../../protocol/index.js';
import { addressingText, audienceText } from '../audience.js';
import { attachmentsText } from '../attachments-text.js';
import { alertMarks, localTime } from './alerts.js';
import { OfflineError, SiarSession } from '../session.js';
import { wireArgs } from '../replies.js';
import { DesktopNotifier } from '../notify.js';
import { declareFile, sendMessage, type LocalFile, type SentMessage } from '../transfer.js';
import { formatBytes } from '../../protocol/units.js';
import { printSaved, progressBars, removedNote, saveAttachments } from './download.js';
import { InterruptGuard, forgetFiles, noteUnsentTwin, rememberFiles, sendFailure, unsentLines } from './unsent.js';
import { checkMessageSize, explainSendFailure, warnIfNobody } from './send-checks.js';
import {
  CliError, FIRST_LOGIN_HINT, commaList, connect, connectAndLogin, defineCommand, oneLine, print, printErr, printJson, readFirstLine, readPassword, serverList, table,
  tlsOptions, withClient, withLogin,
  type ClientOptions,
} from './common.js';

function readBody(opts: { body?: string; 'body-file'?: string }): string {
  if (opts.body !== undefined && opts['body-file'] !== undefined) throw new CliError('Give --body or --body-file, not both.');
  const file = opts['body-file'];
  if (file === undefined) return opts.body ?? '';
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new CliError(`Cannot read ${file}: ${(err as Error).message}`);
  }
}

function printMessages(messages: MessageRecord[], json: boolean, box: 'inbox' | 'outbox'): void {
  if (json) {
    for (const m of messages) printJson(m);
    return;
  }
  if (messages.length === 0) {
    print(`(${box} is empty)\n`);
    return;
  }
  const alerts = messages.map((m) => (box === 'inbox' ? inboxAlert(m) : outboxAlert(m)));
  // The ALERT column (issue 21) only when a message on the page has a priority or asks for acknowledgement.
  const withAlerts = alerts.some(Boolean);
  const rows = messages.map((m, i) => [
    String(m.id),
    m.sentAt.replace('T', ' ').slice(0, 16),
    box === 'inbox' ? (m.via ? `${m.from} via ${m.via}` : m.from) : addressingText(m),
    box === 'inbox' ? (m.readAt ? ' ' : '*') : stateSummary(m),
    attachmentsText(m),
    ...(withAlerts ? [alerts[i]!] : []),
    m.subject,
  ]);
  const header = ['ID', 'SENT', box === 'inbox' ? 'FROM' : 'TO', box === 'inbox' ? 'NEW' : 'DELIVERED/READ', 'ATT', ...(withAlerts ? ['ALERT'] : []), 'SUBJECT'];
  print(table(rows, header));
  if (box === 'outbox') print(unsentLines(messages));
}

/** A recipient's alert column: priority, and whether it still has to acknowledge. */
function inboxAlert(m: MessageRecord): string {
  if (m.recalledAt) return 'WITHDRAWN';
  if (m.expired) return 'expired';
  const marks = alertMarks({ priority: m.priority });
  const ack = m.ack ? (m.ackedAt ? 'acked' : 'ACK?') : '';
  return [marks, ack].filter(Boolean).join(' ');
}

/** The sender's alert column: priority, and how many acknowledged. */
function outboxAlert(m: MessageRecord): string {
  if (m.recalledAt) return 'recalled';
  const marks = alertMarks({ priority: m.priority });
  const ack = m.ack ? `acked ${m.acked?.length ?? 0}/${m.recipients?.length ?? 0}` : '';
  return [marks, ack].filter(Boolean).join(' ');
}

function stateSummary(m: MessageRecord): string {
  // Not out yet (waiting for attachments) or never will be: say so instead of counts.
  if (m.state === 'scheduled' && m.deliverAt) return `scheduled ${localTime(m.deliverAt)}`;
  if (m.state && m.state !== 'sent') return m.state;
  const r = m.recipients ?? [];
  return `${r.filter((x) => x.deliveredAt).length}/${r.filter((x) => x.readAt).length} of ${r.length}`;
}

function printOne(m: MessageRecord): void {
  // Each header stays on its line: a subject cannot forge a From: line below it.
  const lines = [
    `Message ${m.id}`,
    `From:    ${oneLine(m.from)}`,
    `To:      ${oneLine(audienceText(m))}`,
    ...(m.via ? [`Via:     ${oneLine(m.via)}`] : []),
    `Sent:    ${oneLine(m.sentAt)}`,
    `Subject: ${oneLine(m.subject)}`,
  ];
  if (m.state && m.state !== 'sent') lines.push(`State:   ${oneLine(m.state)}`);
  if (m.priority) lines.push(`Priority: ${m.priority}`);
  if (m.recalledAt) lines.push(oneLine(`Withdrawn: ${localTime(m.recalledAt, true)}${m.recallReason ? ` (${m.recallReason})` : ''}`));
  if (m.replaces) lines.push(`Replaces: message ${m.replaces}`);
  if (m.replacedBy) lines.push(`Replaced by: message ${m.replacedBy}`);
  if (m.expiresAt) lines.push(`${m.expired ? 'Expired' : 'Expires'}: ${localTime(m.expiresAt, true)}`);
  if (m.deliverAt) lines.push(`${m.state === 'scheduled' ? 'Scheduled for' : 'Scheduled'}: ${localTime(m.deliverAt, true)}`);
  if (m.remind) lines.push(`Reminders: every ${m.remind} s, at most ${m.remindMax ?? 0}${m.reminders ? `; ${m.reminders} sent` : ''}`);
  if (m.ack && m.ackedAt !== undefined) {
    lines.push(m.ackedAt ? `Acknowledged: ${localTime(m.ackedAt, true)}` : `Acknowledgement requested: siar ack ${m.id}`);
  } else if (m.ack) lines.push('Acknowledgement requested');
  for (const a of m.attachments) {
    const got = a.uploaded !== undefined && a.uploaded < a.size ? `; ${formatBytes(a.uploaded)} uploaded` : '';
    // Its content is gone (the message expired longer ago than the server's grace): not downloadable.
    const removed = a.removedAt ? ` ${removedNote(a.removedAt)}` : '';
    lines.push(oneLine(`Attachment ${a.id}: ${a.name} (${formatBytes(a.size)}, ${a.type}, sha256 ${a.sha256}${got})${removed}`));
  }
  if (m.recipients) {
    const acked = new Map((m.acked ?? []).map((a) => [a.username, a.at]));
    for (const r of m.recipients) {
      const state = acked.has(r.username) ? `acknowledged ${acked.get(r.username)}` : r.readAt ? `read ${r.readAt}` : r.deliveredAt ? `delivered ${r.deliveredAt}` : 'waiting';
      lines.push(oneLine(`  ${r.username}: ${state}`));
    }
  }
  print(lines.join('\n') + '\n\n' + m.body + (m.body.endsWith('\n') ? '' : '\n'));
}

export type SendOpts = ClientOptions & {
  to?: string[]; all?: boolean; channel?: string; subject: string; body?: string; 'body-file'?: string; attach?: string[];
  priority?: 'normal' | 'high' | 'urgent'; ack?: boolean; expires?: string; replaces?: number;
  at?: string; 'remind-every'?: string; 'remind-max'?: number;
};

/** The alert options of `siar send` (issue 21), as the typed client takes them. */
function alertOptions(opts: SendOpts) {
  return {
    priority: opts.priority, ack: opts.ack, expires: opts.expires, replaces: opts.replaces,
    at: opts.at, remindEvery: opts['remind-every'], remindMax: opts['remind-max'],
  };
}

/**
 * What a message says and how it goes out: the options `siar send` and `siar admin send` share
 * (subject, body, attachments, alert options). Addressing (--to, --all, --channel) is send's own.
 */
export function messageOptions<T>(y: Argv<T>) {
  return y
    .option('subject', { type: 'string', demandOption: true })
    .option('body', { type: 'string' })
    .option('body-file', { type: 'string', requiresArg: true, describe: 'read the body from a file, or - for stdin' })
    .option('attach', { type: 'string', array: true, describe: 'attach a file (repeatable); the popup goes out when all are uploaded' })
    .option('priority', { choices: ['normal', 'high', 'urgent'] as const, describe: 'high: the popup stays until dismissed; urgent: a full-screen alert that asks for acknowledgement' })
    .option('ack', { type: 'boolean', describe: 'ask every recipient to acknowledge (siar ack); implied by urgent unless --no-ack' })
    .option('expires', { type: 'string', requiresArg: true, describe: 'after this nobody gets the popup: a duration (2h) or an ISO time with its zone' })
    .option('replaces', { type: 'number', requiresArg: true, describe: 'recall your message ID and send this one as its correction (with --at: recalled when this one goes out)' })
    .option('at', { type: 'string', requiresArg: true, describe: 'scheduled delivery: a duration (30m) or an ISO time with its zone (2026-12-24T08:00+08:00); recipients see nothing before' })
    .option('remind-every', { type: 'string', requiresArg: true, describe: 'remind those who have not acknowledged every DURATION (15m) until all have (needs --ack or urgent)' })
    .option('remind-max', { type: 'number', requiresArg: true, describe: 'the most automatic reminders (1-100; the server\'s default is 8)' })
    .check((a) => {
      const fail = (why: string) => { throw new CliError(`${why} Nothing was sent.`); };
      const asksAck = a.ack ?? a.priority === 'urgent';
      if (a['remind-every'] !== undefined && !asksAck) fail('--remind-every reminds those who have not acknowledged: add --ack (or --priority urgent).');
      if (a['remind-max'] !== undefined && a['remind-every'] === undefined) fail('--remind-max needs --remind-every (how often to remind).');
      const max = a['remind-max'];
      if (max !== undefined && (!Number.isInteger(max) || max < 1 || max > 100)) fail('--remind-max must be a whole number from 1 to 100.');
      if (a.replaces !== undefined && !(Number.isInteger(a.replaces) && a.replaces > 0)) fail('--replaces takes the id of a message you sent (a whole number).');
      return true;
    });
}

/** `--to a,b --to @g` → [a, b, @g]; undefined when not addressing by name. */
function recipientList(opts: SendOpts): string[] | undefined {
  const names = commaList(opts.to);
  return names.length > 0 ? names : undefined;
}

/**
 * How `siar admin send` sends: the fallback login (user admin, `<data>/admin-password`), and a
 * check of the logged-in client before anything is declared or sent.
 */
export interface SendAs {
  fallback?: Parameters<typeof withClient>[2];
  check?: (client: SiarClient) => Promise<void>;
}

/**
 * `send --attach`: declares each file (size, sha256), sends, uploads with progress bars on a TTY.
 * The files are remembered once the message is stored, so Ctrl-C or a lost connection leaves a
 * message `siar resume` continues (unsent.ts).
 */
async function sendWithAttachments(opts: SendOpts, body: string, paths: string[], as: SendAs): Promise<SentMessage> {
  const progress = progressBars();
  const guard = new InterruptGuard(progress);
  try {
    const files: LocalFile[] = [];
    for (const p of paths) {
      try {
        files.push(await declareFile(p, undefined, guard.onProgress));
      } catch (err) {
        throw new CliError(`Cannot attach ${p}: ${(err as Error).message}`);
      }
    }
    noteUnsentTwin(opts, files);
    return await withClient(opts, async (client) => {
      await as.check?.(client);
      checkMessageSize(client, opts.subject, body);
      let sent;
      guard.requesting();
      try {
        sent = await sendMessage(client, {
          to: recipientList(opts), all: !!opts.all,
          channel: opts.channel, subject: opts.subject, body, ...alertOptions(opts),
        }, files, guard.onProgress, (stored) => {
          guard.stored(stored.id, stored.uploadDeadline, stored.attachments);
          rememberFiles(opts, stored, files);
        });
      } catch (err) {
        throw explainSendFailure(sendFailure(opts, err));
      } finally {
        progress.stop();
      }
      forgetFiles(opts, sent.id);
      return sent;
    }, as.fallback);
  } finally {
    guard.dispose();
    progress.stop();
  }
}

/** What was sent, as --json prints it: the reply's fields as the server sent them. */
export type Sent = { id: number; recipients: number; deliverAt?: string; json: Record<string, unknown> };

/**
 * Sends the message the options describe (with its attachments, if any) and returns what the
 * server answered; `siar send` and `siar admin send` print it each their way.
 */
export async function sendFromOptions(opts: SendOpts, as: SendAs = {}): Promise<Sent> {
  const body = readBody(opts);
  if (opts.attach?.length) {
    const sent = await sendWithAttachments(opts, body, opts.attach, as);
    return { id: sent.id, recipients: sent.recipients, deliverAt: sent.deliverAt, json: { ...sent } };
  }
  return withClient(opts, async (client) => {
    await as.check?.(client);
    checkMessageSize(client, opts.subject, body);
    const sent = await client.send({ to: recipientList(opts), all: opts.all, channel: opts.channel, subject: opts.subject, body, ...alertOptions(opts) })
      .catch((err: unknown) => { throw explainSendFailure(err); });
    return { id: sent.id, recipients: sent.recipients, deliverAt: sent.deliverAt, json: wireArgs(sent).toObject() };
  }, as.fallback);
}

export const messagingCommands: CommandModule<object, any>[] = [
  defineCommand({
    command: 'send',
    describe: 'send a popup message to members (prints the message id)',
    builder: (y: Argv) => messageOptions(withLogin(y)
      .option('to', { type: 'string', array: true, describe: 'recipients: username[,username…]; @group names a group (repeatable)' })
      .option('all', { type: 'boolean', describe: 'broadcast to every member' })
      .option('channel', { type: 'string', describe: 'publish to a channel: its subscribers get it' }))
      .check((a) => {
        if ([commaList(a.to).length > 0, a.all, a.channel].filter(Boolean).length !== 1) throw new Error('Give exactly one of --to or --all, or --channel NAME.');
        return true;
      }),
    handler: async (opts: SendOpts) => {
      const sent = await sendFromOptions(opts);
      // --json prints the reply's fields as the server sent them.
      if (opts.json) printJson(sent.json);
      else print(`${sent.id}\n`);
      if (!opts.json && sent.deliverAt) {
        // A scheduled correction: the old notice stays with its recipients until this one goes out.
        const replacing = opts.replaces ? ` Message ${opts.replaces} stays until then and is withdrawn when it goes out.` : '';
        printErr(`siar: message ${sent.id} is scheduled for ${localTime(sent.deliverAt, true)}.${replacing}\n`);
      }
      warnIfNobody(sent.id, sent.recipients, opts.channel);
    },
  }),
  defineCommand({
    command: 'inbox',
    describe: 'list received messages, newest first',
    builder: (y: Argv) => withLogin(y)
      .option('limit', { type: 'number', default: 50 })
      .option('unread', { type: 'boolean', describe: 'only unread messages' }),
    handler: async (opts: ClientOptions & { limit: number; unread?: boolean }) => {
      await withClient(opts, async (client) => {
        const page = await client.inbox({ limit: opts.limit, unread: opts.unread });
        printMessages(page.messages, !!opts.json, 'inbox');
        if (!opts.json) print(`${page.unread} unread\n`);
      });
    },
  }),
  defineCommand({
    command: 'outbox',
    describe: 'list sent messages with delivered/read state per recipient',
    builder: (y: Argv) => withLogin(y).option('limit', { type: 'number', default: 50 }),
    handler: async (opts: ClientOptions & { limit: number }) => {
      await withClient(opts, async (client) => {
        printMessages(await client.outbox({ limit: opts.limit }), !!opts.json, 'outbox');
      });
    },
  }),
  defineCommand({
    command: 'read <id>',
    describe: 'open a message (marks it read)',
    builder: (y: Argv) => withLogin(y).positional('id', { type: 'number', demandOption: true })
      .option('save-dir', { type: 'string', describe: 'also download every attachment into this directory (sha256 verified); those the server removed are skipped' }),
    handler: async (opts: ClientOptions & { id: number; 'save-dir'?: string }) => {
      await withClient(opts, async (client) => {
        const m = await client.read(opts.id);
        if (opts.json) printJson(m);
        else printOne(m);
        const dir = opts['save-dir'];
        if (dir !== undefined && m.attachments.length > 0) printSaved(await saveAttachments(client, m, dir), !!opts.json);
      });
    },
  }),
  defineCommand({
    command: 'delete <id>',
    describe: 'remove a message from your inbox',
    builder: (y: Argv) => withLogin(y).positional('id', { type: 'number', demandOption: true }),
    handler: async (opts: ClientOptions & { id: number }) => {
      await withClient(opts, async (client) => {
        await client.deleteMessage(opts.id);
        if (opts.json) printJson({ deleted: opts.id });
      });
    },
  }),
  defineCommand({
    command: 'directory',
    describe: 'list member institutions, channels and groups (for addressing)',
    builder: (y: Argv) => withLogin(y),
    handler: async (opts: ClientOptions) => {
      await withClient(opts, async (client) => {
        const entries = await client.directory();
        if (opts.json) {
          entries.forEach((e) => printJson(e));
          return;
        }
        const members = entries.flatMap((e) => (e.kind === 'member' ? [e] : []));
        print(table(members.map((r) => [r.username, r.online ? 'online' : '', r.institution]), ['USERNAME', 'ONLINE', 'INSTITUTION']));
        // Channels and groups (issue #4): how to address them.
        const others = entries.flatMap((e) => (e.kind === 'channel' ? [['--channel', e.name, e.description]] : e.kind === 'group' ? [['--to', `@${e.name}`, e.description]] : []));
        if (others.length > 0) print('\n' + table(others.map(([flag, name, description]) => [`${flag} ${name}`, description!]), ['ADDRESS', 'DESCRIPTION']));
      });
    },
  }),
  defineCommand({
    command: 'passwd',
    describe: 'change your password (new one from env SIAR_NEW_PASSWORD or --new-password-file)',
    builder: (y: Argv) => withLogin(y).option('new-password-file', { type: 'string', requiresArg: true }),
    handler: async (opts: ClientOptions & { 'new-password-file'?: string }) => {
      const next = opts['new-password-file']
        ? readFirstLine(opts['new-password-file'], 'the new password file')
        : process.env.SIAR_NEW_PASSWORD;
      if (!next) throw new CliError('No new password: set SIAR_NEW_PASSWORD or give --new-password-file FILE.');
      await withClient(opts, async (client) => {
        await client.changePassword(readPassword(opts), next);
        if (opts.json) printJson({ changed: true });
        else print('password changed\n');
      });
    },
  }),
  defineCommand({
    command: 'listen',
    describe: 'stay connected and print each popup as it arrives (reconnects if the server goes away)',
    builder: (y: Argv) => withLogin(y)
      .option('notify', { type: 'boolean', describe: 'also raise a desktop notification per popup (notify-send on Linux, osascript on macOS)' }),
    handler: async (opts: ListenOpts) => {
      await listen(opts);
    },
  }),
];

/**
 * Prints popups until interrupted. Runs on SiarSession: with a server list it fails over to the
 * next node on a refusal, a lost connection or a server shutting down (backoff only after a whole
 * round failed), re-attaches with the session token (RESUME; the password only if the token is
 * refused), and the popups sent meanwhile are replayed; each is printed once per message id. Each
 * change of connection is one line on stderr.
 */
type ListenOpts = ClientOptions & { notify?: boolean };

async function listen(opts: ListenOpts): Promise<void> {
  // Told once on stderr (no notifier, or it fails); the popups are printed either way.
  const notifier = opts.notify ? new DesktopNotifier((text) => printErr(`${text}\n`)) : null;
  if (!opts.user) throw new CliError('No username: give --user or set SIAR_USER.');
  const user = opts.user;
  const password = readPassword(opts);
  serverList(opts); // a malformed list is refused before anything starts
  const session = new SiarSession({ address: opts.server ?? '', ...tlsOptions(opts), heartbeatMs: 60_000 });
  session.on('popup', (p) => {
    if (opts.json) printJson(p);
    else {
      const att = p.attachments.length ? ` [${p.attachments.length} attachment(s): ${p.attachments.join(', ')}]` : '';
      const via = p.via ? ` via ${p.via}` : '';
      // Alerts (issue 21): priority, reminder, what it replaces, how to acknowledge.
      const marks = alertMarks(p);
      const flag = (p.reminder ? `[reminder ${p.reminder}] ` : '') + (marks ? `[${marks}] ` : '');
      const ask = (p.replaces ? `\n  (replaces message ${p.replaces})` : '') + (p.ack ? `\n  (acknowledge: siar ack ${p.id})` : '');
      print(`${oneLine(`${flag}[${p.sentAt}] #${p.id} from ${p.from} (${p.institution})${via}: ${p.subject}${att}`)}\n  ${p.preview.replace(/\r?\n/g, '\n  ')}${ask}\n`);
    }
    notifier?.notify(p);
  });
  session.on('recalled', (r) => {
    if (opts.json) printJson({ recalled: r.id, reason: r.reason, at: r.at, ...(r.replacedBy ? { replacedBy: r.replacedBy } : {}) });
    else print(`${oneLine(`[${r.at}] #${r.id} was withdrawn by its sender${r.reason ? `: ${r.reason}` : ''}${r.replacedBy ? ` (replaced by #${r.replacedBy})` : ''}`)}\n`);
  });
  let loggedIn = false;
  let lastError: string | null = null;
  session.on('state', (s) => {
    // stderr even with --json: scripts wait for "listening as" to know the login is done.
    if (s.status === 'offline' && s.error && s.error !== lastError) {
      lastError = s.error;
      const wait = s.retryAt ? Math.max(0, Math.round((s.retryAt - Date.now()) / 100) / 10) : 0;
      printErr(`${loggedIn ? 'connection lost' : 'not connected'}: ${s.error}${wait > 0 ? `; retrying in ${wait} s` : ''}\n`);
    }
    if (s.status === 'online') lastError = null;
  });
  session.on('login', (_info, how) => {
    if (how.resumed) printErr(`listening as ${user} again, on ${session.address}${how.byToken ? ' (session resumed)' : ' (logged in again)'}\n`);
  });
  const ended = new Promise<Error>((resolve) => session.once('authLost', resolve));
  session.start();
  try {
    for (;;) {
      const s = await Promise.race([session.waitFor((st) => st.status === 'connected', 24 * 3600_000), ended]);
      if (s instanceof Error) throw s;
      try {
        const info = await session.login(user, password);
        if (info.mustChangePassword) throw new CliError(FIRST_LOGIN_HINT);
        break;
      } catch (err) {
        if (err instanceof OfflineError) continue; // lost during login: the session reconnects
        throw err;
      }
    }
    loggedIn = true;
    printErr(`listening as ${user}\n`);
    // The server closed the session on purpose (password changed, suspension, logged out elsewhere).
    throw await ended;
  } finally {
    await session.close();
  }
}

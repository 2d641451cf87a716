import { readFileSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { argsToMessage, argsToPopup, type MessageRecord } from '../../protocol/index.js';
import { SiarClient } from '../connection.js';
import { CliError, connectAndLogin, defineCommand, printJson, readPassword, table, withClient, withLogin, type ClientOptions } from './common.js';

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
    process.stdout.write(`(${box} is empty)\n`);
    return;
  }
  const rows = messages.map((m) => [
    String(m.id),
    m.sentAt.replace('T', ' ').slice(0, 16),
    box === 'inbox' ? m.from : m.to.join(','),
    box === 'inbox' ? (m.readAt ? ' ' : '*') : stateSummary(m),
    m.attachments.length ? `+${m.attachments.length}` : '',
    m.subject,
  ]);
  process.stdout.write(table(rows, ['ID', 'SENT', box === 'inbox' ? 'FROM' : 'TO', box === 'inbox' ? 'NEW' : 'DELIVERED/READ', 'ATT', 'SUBJECT']));
}

function stateSummary(m: MessageRecord): string {
  const r = m.recipients ?? [];
  return `${r.filter((x) => x.deliveredAt).length}/${r.filter((x) => x.readAt).length} of ${r.length}`;
}

function printOne(m: MessageRecord): void {
  const lines = [
    `Message ${m.id}`,
    `From:    ${m.from}`,
    `To:      ${m.to.join(', ')}`,
    `Sent:    ${m.sentAt}`,
    `Subject: ${m.subject}`,
  ];
  for (const a of m.attachments) lines.push(`Attachment ${a.id}: ${a.name} (${a.size} bytes, ${a.type}, sha256 ${a.sha256})`);
  if (m.recipients) {
    for (const r of m.recipients) lines.push(`  ${r.username}: ${r.readAt ? `read ${r.readAt}` : r.deliveredAt ? `delivered ${r.deliveredAt}` : 'waiting'}`);
  }
  process.stdout.write(lines.join('\n') + '\n\n' + m.body + (m.body.endsWith('\n') ? '' : '\n'));
}

type SendOpts = ClientOptions & { to?: string; all?: boolean; subject: string; body?: string; 'body-file'?: string };

export const messagingCommands: CommandModule<object, any>[] = [
  defineCommand({
    command: 'send',
    describe: 'send a popup message to members (prints the message id)',
    builder: (y: Argv) => withLogin(y)
      .option('to', { type: 'string', describe: 'recipients: username[,username…]' })
      .option('all', { type: 'boolean', describe: 'broadcast to every member' })
      .option('subject', { type: 'string', demandOption: true })
      .option('body', { type: 'string' })
      .option('body-file', { type: 'string', describe: 'read the body from a file, or - for stdin' })
      .check((a) => {
        if (!a.to === !a.all) throw new Error('Give exactly one of --to or --all.');
        return true;
      }),
    handler: async (opts: SendOpts) => {
      const body = readBody(opts);
      await withClient(opts, async (client) => {
        const reply = await client.request('SEND', {
          to: opts.to ? opts.to.split(',').map((s) => s.trim()).filter(Boolean) : undefined,
          all: opts.all ? 1 : undefined,
          subject: opts.subject,
          body,
        });
        if (opts.json) printJson(reply.args.toObject());
        else process.stdout.write(`${reply.args.get('id')}\n`);
      });
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
        const reply = await client.request('INBOX', { limit: opts.limit, unread: opts.unread ? 1 : undefined });
        printMessages(reply.items.map(argsToMessage), !!opts.json, 'inbox');
        if (!opts.json) process.stdout.write(`${reply.args.get('unread')} unread\n`);
      });
    },
  }),
  defineCommand({
    command: 'outbox',
    describe: 'list sent messages with delivered/read state per recipient',
    builder: (y: Argv) => withLogin(y).option('limit', { type: 'number', default: 50 }),
    handler: async (opts: ClientOptions & { limit: number }) => {
      await withClient(opts, async (client) => {
        const reply = await client.request('OUTBOX', { limit: opts.limit });
        printMessages(reply.items.map(argsToMessage), !!opts.json, 'outbox');
      });
    },
  }),
  defineCommand({
    command: 'read <id>',
    describe: 'open a message (marks it read)',
    builder: (y: Argv) => withLogin(y).positional('id', { type: 'number', demandOption: true }),
    handler: async (opts: ClientOptions & { id: number }) => {
      await withClient(opts, async (client) => {
        const reply = await client.request('READ', { id: opts.id });
        const m = argsToMessage(reply.args);
        if (opts.json) printJson(m);
        else printOne(m);
      });
    },
  }),
  defineCommand({
    command: 'delete <id>',
    describe: 'remove a message from your inbox',
    builder: (y: Argv) => withLogin(y).positional('id', { type: 'number', demandOption: true }),
    handler: async (opts: ClientOptions & { id: number }) => {
      await withClient(opts, async (client) => {
        await client.request('DELETE', { id: opts.id });
        if (opts.json) printJson({ deleted: opts.id });
      });
    },
  }),
  defineCommand({
    command: 'directory',
    describe: 'list member institutions (for addressing)',
    builder: (y: Argv) => withLogin(y),
    handler: async (opts: ClientOptions) => {
      await withClient(opts, async (client) => {
        const reply = await client.request('DIRECTORY');
        const rows = reply.items.map((a) => ({ username: a.get('username') ?? '', institution: a.get('institution') ?? '', online: a.get('online') === '1' }));
        if (opts.json) rows.forEach((r) => printJson(r));
        else process.stdout.write(table(rows.map((r) => [r.username, r.online ? 'online' : '', r.institution]), ['USERNAME', 'ONLINE', 'INSTITUTION']));
      });
    },
  }),
  defineCommand({
    command: 'passwd',
    describe: 'change your password (new one from env SIAR_NEW_PASSWORD or --new-password-file)',
    builder: (y: Argv) => withLogin(y).option('new-password-file', { type: 'string' }),
    handler: async (opts: ClientOptions & { 'new-password-file'?: string }) => {
      const next = opts['new-password-file']
        ? (readFileSync(opts['new-password-file'], 'utf8').split(/\r?\n/)[0] ?? '').trim()
        : process.env.SIAR_NEW_PASSWORD;
      if (!next) throw new CliError('No new password: set SIAR_NEW_PASSWORD or give --new-password-file FILE.');
      process.env.SIAR_QUIET_PASSWD_HINT = '1';
      await withClient(opts, async (client) => {
        await client.request('PASSWD', { old: readPassword(opts), new: next });
        if (opts.json) printJson({ changed: true });
        else process.stdout.write('password changed\n');
      });
    },
  }),
  defineCommand({
    command: 'listen',
    describe: 'stay connected and print each popup as it arrives (reconnects if the server goes away)',
    builder: (y: Argv) => withLogin(y),
    handler: async (opts: ClientOptions) => {
      await listen(opts);
    },
  }),
];

/** Prints popups until interrupted; reconnects with backoff when the connection drops. */
async function listen(opts: ClientOptions): Promise<void> {
  const seen = new Set<number>();
  let delay = 1000;
  for (;;) {
    let client: SiarClient;
    try {
      client = await connectAndLogin(opts);
    } catch (err) {
      if (!(err instanceof CliError && err.exitCode === 2)) throw err;
      process.stderr.write(`${err.message}; retrying in ${delay / 1000} s\n`);
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 30_000);
      continue;
    }
    delay = 1000;
    if (!opts.json) process.stderr.write(`listening as ${opts.user}\n`);
    client.startKeepalive(60_000);
    client.on('push', (event, args) => {
      if (event !== 'POPUP') return;
      const p = argsToPopup(args);
      if (seen.has(p.id)) return;
      seen.add(p.id);
      if (opts.json) printJson(p);
      else {
        const att = p.attachments.length ? ` [${p.attachments.length} attachment(s): ${p.attachments.join(', ')}]` : '';
        process.stdout.write(`[${p.sentAt}] #${p.id} from ${p.from} (${p.institution}): ${p.subject}${att}\n  ${p.preview.replace(/\n/g, '\n  ')}\n`);
      }
    });
    const reason = await new Promise<Error | null>((resolve) => client.once('close', resolve));
    const code = (reason as { code?: string } | null)?.code;
    if (code === 'SESSION_CLOSED' || code === 'ACCOUNT_SUSPENDED') throw reason;
    process.stderr.write(`connection lost (${reason?.message ?? 'closed'}); reconnecting\n`);
  }
}

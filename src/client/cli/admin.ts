import type { Argv, CommandModule } from 'yargs';
import { argsToRegistration, type Args } from '../../protocol/index.js';
import { adminFallback, CliError, defineCommand, oneLine, print, printJson, table, withClient, withLogin, type ClientOptions } from './common.js';
import { adminOpsSubcommands, waitForMail } from '../admin-console/commands.js';
import { memberUsage } from '../admin-console/format.js';
import { adminChannelSubcommands } from './channels.js';
import { commandGroup } from './command-menu.js';
import { adminMailCommand } from './admin-mail.js';

type AdminOpts = ClientOptions & { data: string };

function adminOptions(y: Argv) {
  return withLogin(y).option('data', {
    type: 'string', default: 'data',
    describe: 'data directory whose admin-password is used when no password is given (on the server machine)',
  });
}

async function run(opts: AdminOpts, body: Parameters<typeof withClient>[1]): Promise<void> {
  await withClient(opts, body, adminFallback(opts.data));
}

function printRows(items: Args[], json: boolean, columns: string[]): void {
  if (json) {
    for (const a of items) printJson(a.toObject());
    return;
  }
  print(table(items.map((a) => columns.map((c) => a.getAll(c).join(','))), columns.map((c) => c.toUpperCase())));
}

const adminSubcommands: CommandModule<object, any>[] = [
defineCommand({
  command: 'pending',
  describe: 'registration requests awaiting approval',
  builder: (y2: Argv) => adminOptions(y2).option('status', { type: 'string', default: 'pending', choices: ['pending', 'approved', 'rejected', 'expired', 'all'] }),
  handler: (opts: AdminOpts & { status: string }) => run(opts, async (c) => {
    const reply = await c.request('PENDING', { status: opts.status });
    if (opts.json) reply.items.forEach((a) => printJson(argsToRegistration(a)));
    else if (reply.items.length === 0) print(`(no ${opts.status} requests)\n`);
    else printRows(reply.items, false, ['id', 'username', 'email', 'contact', 'createdAt', 'institution']);
  }),
}),
defineCommand({
  command: 'approve <ids..>',
  describe: 'approve requests: creates the members and mails their credentials',
  builder: (y2: Argv) => adminOptions(y2).positional('ids', { type: 'number', array: true })
    .option('wait-mail', { type: 'boolean', describe: 'wait until each credentials mail is sent or fails (exit 1 if one failed)' }),
  handler: (opts: AdminOpts & { ids: number[]; 'wait-mail'?: boolean }) => run(opts, async (c) => {
    let failed = 0;
    for (const id of opts.ids) {
      const r = (await c.request('APPROVE', { id })).args;
      const mail = opts['wait-mail'] ? await waitForMail(c, Number(r.get('mailId'))) : null;
      if (mail?.status === 'failed') failed++;
      if (opts.json) printJson({ ...r.toObject(), ...(mail ? { mailStatus: mail.status, mailError: mail.error } : {}) });
      else {
        print(`${oneLine(`approved ${id}: member ${r.get('username')} created; credentials mail ${r.get('mailId')} ${mail ? (mail.status === 'failed' ? `FAILED (${mail.error})` : mail.status) : 'queued'} to ${r.get('email')}`)}\n`);
      }
    }
    if (failed) throw new CliError(`${failed} credentials mail(s) could not be sent yet; see siar admin mail-queue, then siar admin mail-retry`);
  }),
}),
defineCommand({
  command: 'reject <ids..>',
  describe: 'reject requests with a reason (mailed to the registrant)',
  builder: (y2: Argv) => adminOptions(y2).positional('ids', { type: 'number', array: true }).option('reason', { type: 'string', demandOption: true }),
  handler: (opts: AdminOpts & { ids: number[]; reason: string }) => run(opts, async (c) => {
    for (const id of opts.ids) {
      const r = (await c.request('REJECT', { id, reason: opts.reason })).args;
      if (opts.json) printJson(r.toObject());
      else print(`rejected ${id}\n`);
    }
  }),
}),
defineCommand({
  command: 'members',
  describe: 'members with status, last login, storage used against the quota and messages sent in the last minute against the rate',
  builder: (y2: Argv) => adminOptions(y2).option('search', { type: 'string', describe: 'filter by username, institution or e-mail' }),
  handler: (opts: AdminOpts & { search?: string }) => run(opts, async (c) => {
    const reply = await c.request('MEMBERS', { q: opts.search });
    if (opts.json) {
      printRows(reply.items, true, []);
      return;
    }
    const rows = reply.items.map((a) => {
      const { stored, sending } = memberUsage(a.toObject());
      return [a.get('username') ?? '', a.get('status') ?? '', a.get('online') ?? '', stored, sending, a.get('email') ?? '', a.get('lastLoginAt') ?? '', a.get('institution') ?? ''];
    });
    process.stdout.write(table(rows, ['USERNAME', 'STATUS', 'ONLINE', 'STORED / QUOTA', 'SENT LAST MIN / RATE', 'EMAIL', 'LASTLOGINAT', 'INSTITUTION']));
  }),
}),
defineCommand({
  command: 'suspend <username>',
  describe: 'suspend a member (closes its sessions at once)',
  builder: (y2: Argv) => adminOptions(y2).positional('username', { type: 'string' }),
  handler: (opts: AdminOpts & { username: string }) => run(opts, async (c) => {
    const r = (await c.request('SUSPEND', { username: opts.username })).args;
    if (opts.json) printJson(r.toObject());
    else print(`suspended ${r.get('username')} (${r.get('connections')} connection(s) closed)\n`);
  }),
}),
defineCommand({
  command: 'reactivate <username>',
  describe: 'lift a suspension',
  builder: (y2: Argv) => adminOptions(y2).positional('username', { type: 'string' }),
  handler: (opts: AdminOpts & { username: string }) => run(opts, async (c) => {
    const r = (await c.request('REACTIVATE', { username: opts.username })).args;
    if (opts.json) printJson(r.toObject());
    else print(`reactivated ${r.get('username')}\n`);
  }),
}),
defineCommand({
  command: 'online',
  describe: 'who is connected now',
  builder: (y2: Argv) => adminOptions(y2),
  handler: (opts: AdminOpts) => run(opts, async (c) => {
    const reply = await c.request('ONLINE');
    printRows(reply.items, !!opts.json, ['username', 'connections', 'since', 'address']);
  }),
}),
// stats, mail-queue, mail-retry, audit, backup, backups, reset-password, expiry, console
...adminOpsSubcommands(adminOptions, run),
// channel …, group … (issue #4)
...adminChannelSubcommands(adminOptions, run),
// mail list|show: the embedded mail folder, read on the server machine (issue 22)
adminMailCommand,
];

export const adminCommand = commandGroup(
  'siar admin',
  'administration: registrations, members (user admin; password from SIAR_PASSWORD, --password-file or <data>/admin-password)',
  adminSubcommands,
);

import type { Argv, CommandModule } from 'yargs';
import type { RegistrationFilter } from '../calls.js';
import { wireArgs } from '../replies.js';
import { adminFallback, CliError, defineCommand, oneLine, print, printErr, printJson, table, withClient, withLogin, type ClientOptions } from './common.js';
import { adminOpsSubcommands, waitForMail } from '../admin-console/commands.js';
import { memberUsage } from '../admin-console/format.js';
import { adminChannelSubcommands } from './channels.js';
import { commandGroup } from './command-menu.js';
import { adminMailCommand } from './admin-mail.js';
import { messageOptions, sendFromOptions, type SendOpts } from './messaging.js';
import { localTime } from './alerts.js';
import { count } from '../counts.js';

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

/** Rows as the server sent them: --json prints each one's fields, a table the chosen columns. */
function printRows(rows: object[], json: boolean, columns: string[]): void {
  const items = rows.map(wireArgs);
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
  handler: (opts: AdminOpts & { status: RegistrationFilter }) => run(opts, async (c) => {
    const requests = await c.admin.pending({ status: opts.status });
    if (opts.json) requests.forEach((r) => printJson(r));
    else if (requests.length === 0) print(`(no ${opts.status} requests)\n`);
    else printRows(requests, false, ['id', 'username', 'email', 'contact', 'createdAt', 'institution']);
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
      const r = await c.admin.approve(id);
      const mail = opts['wait-mail'] ? await waitForMail(c, r.mailId) : null;
      if (mail?.status === 'failed') failed++;
      if (opts.json) printJson({ ...wireArgs(r).toObject(), ...(mail ? { mailStatus: mail.status, mailError: mail.error } : {}) });
      else {
        print(`${oneLine(`approved ${id}: member ${r.username} created; credentials mail ${r.mailId} ${mail ? (mail.status === 'failed' ? `FAILED (${mail.error})` : mail.status) : 'queued'} to ${r.email}`)}\n`);
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
      const r = await c.admin.reject(id, opts.reason);
      if (opts.json) printJson(wireArgs(r).toObject());
      else print(`rejected ${id}\n`);
    }
  }),
}),
defineCommand({
  command: 'members',
  describe: 'members with status, last login, storage used against the quota and messages sent in the last minute against the rate',
  builder: (y2: Argv) => adminOptions(y2).option('search', { type: 'string', describe: 'filter by username, institution or e-mail' }),
  handler: (opts: AdminOpts & { search?: string }) => run(opts, async (c) => {
    const members = await c.admin.members({ q: opts.search });
    if (opts.json) {
      printRows(members, true, []);
      return;
    }
    const rows = members.map((m) => {
      const { stored, sending } = memberUsage(m);
      return [m.username, m.status, m.online ? '1' : '0', stored, sending, m.email, m.lastLoginAt ?? '', m.institution];
    });
    process.stdout.write(table(rows, ['USERNAME', 'STATUS', 'ONLINE', 'STORED / QUOTA', 'SENT LAST MIN / RATE', 'EMAIL', 'LASTLOGINAT', 'INSTITUTION']));
  }),
}),
defineCommand({
  command: 'suspend <username>',
  describe: 'suspend a member (closes its sessions at once)',
  builder: (y2: Argv) => adminOptions(y2).positional('username', { type: 'string' }),
  handler: (opts: AdminOpts & { username: string }) => run(opts, async (c) => {
    const r = await c.admin.suspend(opts.username);
    if (opts.json) printJson(wireArgs(r).toObject());
    else print(`suspended ${r.username} (${r.connections} connection(s) closed)\n`);
  }),
}),
defineCommand({
  command: 'reactivate <username>',
  describe: 'lift a suspension',
  builder: (y2: Argv) => adminOptions(y2).positional('username', { type: 'string' }),
  handler: (opts: AdminOpts & { username: string }) => run(opts, async (c) => {
    const r = await c.admin.reactivate(opts.username);
    if (opts.json) printJson(wireArgs(r).toObject());
    else print(`reactivated ${r.username}\n`);
  }),
}),
defineCommand({
  command: 'online',
  describe: 'who is connected now',
  builder: (y2: Argv) => adminOptions(y2),
  handler: (opts: AdminOpts) => run(opts, async (c) => {
    const online = await c.admin.online();
    printRows(online.users, !!opts.json, ['username', 'connections', 'since', 'address']);
    if (online.note) process.stderr.write(`${online.note}\n`);
  }),
}),
defineCommand({
  command: 'send',
  describe: 'send an alert to all members (the options of siar send: --priority, --ack/--no-ack, --expires, --body-file, --attach)',
  builder: (y2: Argv) => messageOptions(adminOptions(y2)),
  handler: (opts: AdminOpts & SendOpts) => adminSend(opts),
}),
// stats, mail-queue, mail-retry, audit, backup, backups, reset-password, expiry, console
...adminOpsSubcommands(adminOptions, run),
// channel …, group … (issue #4)
...adminChannelSubcommands(adminOptions, run),
// mail list|show: the embedded mail folder, read on the server machine (issue 22)
adminMailCommand,
];

/**
 * `siar admin send`: an all-members alert from the command line, as the console's Traffic screen
 * sends it with `a` (SEND all=1 as the administrator), with every option `siar send` has.
 */
async function adminSend(opts: AdminOpts & SendOpts): Promise<void> {
  const sent = await sendFromOptions({ ...opts, to: undefined, channel: undefined, all: true }, {
    fallback: adminFallback(opts.data),
    check: async (client) => {
      const me = await client.whoami();
      if (me.role !== 'admin') {
        throw new CliError(`siar admin send is the administrator's, and ${me.username} is a member: log in as admin (a member sends to everyone with siar send --all). Nothing was sent.`);
      }
    },
  });
  if (opts.json) {
    printJson(sent.json);
    return;
  }
  const priority = opts.priority ?? 'normal';
  const ack = opts.ack ?? priority === 'urgent';
  const kind = [priority !== 'normal' ? priority : '', ack ? 'acknowledgement asked' : ''].filter(Boolean).join(', ');
  if (sent.deliverAt) print(`Scheduled alert ${sent.id}${kind ? ` (${kind})` : ''} for ${count(sent.recipients, 'member')} at ${localTime(sent.deliverAt, true)}; nobody sees it before.\n`);
  else print(`Sent alert ${sent.id}${kind ? ` (${kind})` : ''} to ${count(sent.recipients, 'member')}.\n`);
  if (sent.recipients === 0) printErr('There are no active members yet: nobody will get it.\n');
}

export const adminCommand = commandGroup(
  'siar admin',
  'administration: registrations, members (user admin; password from SIAR_PASSWORD, --password-file or <data>/admin-password)',
  adminSubcommands,
);

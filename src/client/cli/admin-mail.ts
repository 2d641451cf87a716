/**
 * `siar admin mail list|show`: the mail the server wrote to its embedded mail folder
 * (`<data>/mail/`, when it runs without --smtp), read on the server machine. `show` prints a mail
 * decoded (no CRLF, no quoted-printable), so `sed -n 's/^Password: //p'` finds a mailed password.
 */
import path from 'node:path';
import type { Argv } from 'yargs';
import { listMailFiles, mailFolder, readMailFile, type MailFileEntry } from '../../server/mail/mail-folder.js';
import { commandGroup } from './command-menu.js';
import { CliError, defineCommand, oneLine, print, printJson, table } from './common.js';

type MailOpts = { data: string; json?: boolean };

function mailOptions(y: Argv) {
  return y
    .option('data', { type: 'string', default: 'data', describe: 'the server\'s data directory (its mail is in <data>/mail/)' })
    .option('json', { type: 'boolean', default: false, describe: 'print one JSON object per line' });
}

async function entries(dataDir: string): Promise<{ dir: string; files: MailFileEntry[] }> {
  const dir = mailFolder(dataDir);
  const files = await listMailFiles(dir);
  if (files === null) {
    throw new CliError(`There is no mail folder ${dir}: the server writes mail there only when it runs without --smtp (give --data DIR for another data directory).`);
  }
  return { dir, files };
}

/** A mail id, or the recipient's address: its newest mail. */
async function find(dir: string, files: MailFileEntry[], which: string) {
  if (/^\d+$/.test(which)) {
    const entry = files.find((f) => f.id === Number(which));
    if (!entry) throw new CliError(`There is no mail ${which} in ${dir}; siar admin mail list shows what is there.`);
    return { entry, mail: await readMailFile(path.join(dir, entry.name)) };
  }
  if (!which.includes('@')) throw new CliError('Give a mail id (a number) or the e-mail address it was sent to.');
  const address = which.toLowerCase();
  for (const entry of files) {
    const mail = await readMailFile(path.join(dir, entry.name));
    const to = (mail.headers.get('to') ?? '').toLowerCase();
    if (to === address || to.includes(`<${address}>`)) return { entry, mail };
  }
  throw new CliError(`No mail to ${which} in ${dir}; siar admin mail list shows what is there.`);
}

export const adminMailCommand = commandGroup(
  'siar admin mail',
  'read the mail written to the embedded mail folder <data>/mail/ (on the server machine): list, show',
  [
    defineCommand({
      command: 'list',
      describe: 'the mails in <data>/mail/, newest first',
      builder: mailOptions,
      handler: async (opts: MailOpts) => {
        const { dir, files } = await entries(opts.data);
        const rows = [];
        for (const f of files) {
          const mail = await readMailFile(path.join(dir, f.name));
          rows.push({ id: f.id, kind: f.kind, to: mail.headers.get('to') ?? '', writtenAt: f.writtenAt, subject: mail.headers.get('subject') ?? '', file: path.join(dir, f.name) });
        }
        if (opts.json) rows.forEach((r) => printJson(r));
        else if (rows.length === 0) print(`(no mail in ${dir})\n`);
        else print(table(rows.map((r) => [String(r.id), r.kind, r.to, r.writtenAt, r.subject]), ['ID', 'KIND', 'TO', 'WRITTEN', 'SUBJECT']));
      },
    }),
    defineCommand({
      command: 'show <mail>',
      describe: 'one mail as text: by its id (siar admin approve prints it), or the newest to an e-mail address',
      builder: (y: Argv) => mailOptions(y).positional('mail', { type: 'string', describe: 'a mail id, or an e-mail address' }),
      handler: async (opts: MailOpts & { mail: string }) => {
        const { dir, files } = await entries(opts.data);
        const { entry, mail } = await find(dir, files, String(opts.mail));
        const h = (name: string) => mail.headers.get(name) ?? '';
        const file = path.join(dir, entry.name);
        if (opts.json) {
          printJson({ id: entry.id, kind: entry.kind, from: h('from'), to: h('to'), subject: h('subject'), date: h('date'), writtenAt: entry.writtenAt, file, text: mail.text });
          return;
        }
        // A file could hold anything: controls are shown as escapes, each header on its line.
        const head = [`From: ${oneLine(h('from'))}`, `To: ${oneLine(h('to'))}`, `Subject: ${oneLine(h('subject'))}`, `Date: ${oneLine(h('date'))}`, `File: ${oneLine(file)}`];
        print(`${head.join('\n')}\n\n${mail.text}${mail.text.endsWith('\n') ? '' : '\n'}`);
      },
    }),
  ],
);

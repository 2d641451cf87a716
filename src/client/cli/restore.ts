import type { Argv } from 'yargs';
import { CliError, defineCommand, print, printJson } from './common.js';

type RestoreOpts = { file: string; data: string; force?: boolean; json?: boolean };

/** `siar restore FILE --data DIR [--force]`: puts a backup into the data directory of a stopped server. */
export const restoreCommand = defineCommand<RestoreOpts>({
  command: 'restore <file>',
  describe: 'restore a backup (from siar admin backup) into the data directory of a stopped server',
  builder: (y: Argv) => y
    .positional('file', { type: 'string', describe: 'the backup database, e.g. data/backups/siar-….db' })
    .option('data', { type: 'string', demandOption: true, describe: 'data directory of the server to restore into' })
    .option('force', { type: 'boolean', default: false, describe: 'replace an existing database (the old one is kept beside it)' })
    .option('json', { type: 'boolean', default: false }),
  handler: async (opts: RestoreOpts) => {
    let result;
    // Loaded on use: only restore needs the server's backup code.
    const { RestoreRefused, restoreBackup } = await import('../../server/backup.js');
    const { databaseFiles } = await import('../../adapters/index.js');
    try {
      result = await restoreBackup(opts.file, opts.data, { force: opts.force, files: databaseFiles });
    } catch (err) {
      if (err instanceof RestoreRefused) throw new CliError(`restore refused: ${err.message}`);
      throw err;
    }
    if (opts.json) {
      printJson(result);
      return;
    }
    const r = result.report;
    const lines = [
      `restored ${opts.file} into ${result.database}`,
      `  ${r.members} members, ${r.messages} messages, ${r.pendingRegistrations} pending requests, ${r.unsentMail} unsent mails (schema ${r.schemaVersion}, integrity ${r.integrity})`,
    ];
    if (result.previous) lines.push(`  the database that was there is kept as ${result.previous}`);
    if (result.attachmentsCopied) lines.push(`  ${result.attachmentsCopied} attachment file(s) copied back`);
    for (const note of result.notes) lines.push(`note: ${note}`);
    lines.push(`start the server with: siar server --data ${opts.data}`);
    print(lines.join('\n') + '\n');
  },
});

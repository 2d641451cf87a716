import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { adminCommand } from './admin.js';
import { channelCommands } from './channels.js';
import { describeError, CliError } from './common.js';
import { downloadCommand } from './download.js';
import { messagingCommands } from './messaging.js';
import { registerCommand } from './register.js';
import { restoreCommand } from './restore.js';
import { serverCommand } from './server-cmd.js';
import { tuiCommand } from './tui-cmd.js';
import { unsentCommands } from './unsent.js';

const cli = yargs(hideBin(process.argv))
  .scriptName('siar')
  .usage('siar — popup messages between institutions\n\nUsage: siar <command> [options]')
  .command(serverCommand)
  .command(registerCommand)
  .command(adminCommand)
  .command(restoreCommand);
for (const c of messagingCommands) cli.command(c);
for (const c of channelCommands) cli.command(c);
cli.command(downloadCommand);
for (const c of unsentCommands) cli.command(c);
cli.command(tuiCommand);

try {
  await cli
    .demandCommand(1, 'Name a command; see siar --help.')
    .strict()
    .env(false)
    .fail((msg, err) => {
      throw err ?? new CliError(msg);
    })
    .help()
    .parseAsync();
} catch (err) {
  process.stderr.write(`siar: ${describeError(err)}\n`);
  process.exitCode = err instanceof CliError ? err.exitCode : 1;
}

import yargs, { type CommandModule } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { adminCommand } from './admin.js';
import { channelCommands } from './channels.js';
import { commandMenu, usageSentence } from './command-menu.js';
import { describeError, CliError, isBug, printErr } from './common.js';
import { downloadCommand } from './download.js';
import { messagingCommands } from './messaging.js';
import { alertCommands } from './alerts.js';
import { registerCommand } from './register.js';
import { migrateCommand } from './migrate.js';
import { restoreCommand } from './restore.js';
import { serverCommand } from './server-cmd.js';
import { singleValues, type DeclaredOptions } from './single-values.js';
import { tuiCommand } from './tui-cmd.js';
import { unsentCommands } from './unsent.js';

// A reader that went away (`siar inbox | head -3`) ends the command quietly, as it ends Unix tools;
// the exit code is the command's so far (a message sent before the pipe closed was sent).
const exitCodeSoFar = () => (typeof process.exitCode === 'number' ? process.exitCode : 0);
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') process.stderr.write(`siar: cannot write the output: ${err.message}\n`);
  process.exit(err.code === 'EPIPE' ? exitCodeSoFar() : 1);
});
process.stderr.on('error', () => process.exit(exitCodeSoFar()));

const commands = [
  serverCommand, registerCommand, adminCommand, restoreCommand, migrateCommand, ...messagingCommands, ...alertCommands, ...channelCommands, downloadCommand,
  ...unsentCommands, tuiCommand,
];

const cli = yargs(hideBin(process.argv))
  .scriptName('siar')
  .usage('siar — popup messages between institutions\n\nUsage: siar <command> [options]');
for (const c of commands) cli.command(c);
// `siar` alone or `siar bogus`: the command list and the nearest command.
const menu: CommandModule<object, any> = {
  command: '$0 [command] [args..]',
  describe: false,
  handler: (a) => { throw commandMenu('siar', commands, a.command); },
};
cli.command(menu);

/** While a command is parsed, yargs's getOptions() (not in its types) describes that command's options. */
const declared = () => (cli as unknown as { getOptions(): DeclaredOptions }).getOptions();
/** While a command is parsed, the words of its name and its usage specs (yargs's internal context, not in its types). */
const context = () => (cli as unknown as { getInternalMethods(): { getContext(): { commands: string[]; fullCommands: string[] } } })
  .getInternalMethods().getContext();

try {
  await cli
    .strict()
    .env(false)
    .middleware((argv) => singleValues(argv, declared()), true)
    .fail((msg, err) => {
      // Our own errors (a check's, a handler's) as they are; yargs's and its parser's in siar's terms.
      if (err && !/^(YError|ParserError)$/.test(err.name)) throw err;
      const { commands: words, fullCommands } = context();
      throw new CliError(usageSentence(msg ?? err?.message ?? '', ['siar', ...words].join(' '), fullCommands.at(-1), hideBin(process.argv)));
    })
    .help()
    .parseAsync();
} catch (err) {
  printErr(`siar: ${describeError(err)}\n`);
  if (err instanceof CliError && err.details) printErr(`${err.details}\n`);
  if (isBug(err) && process.env.SIAR_DEBUG === '1') printErr(`${(err as Error).stack}\n`);
  process.exitCode = err instanceof CliError ? err.exitCode : 1;
}

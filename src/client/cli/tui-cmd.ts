import type { Argv } from 'yargs';
import { CliError, defineCommand, tlsOptions, withServer } from './common.js';

type TuiOpts = { server?: string; tls?: boolean; ca?: string; user?: string; mouse?: boolean; notify?: boolean };

export const tuiCommand = defineCommand<TuiOpts>({
  command: 'tui',
  describe: 'the institution\'s terminal client: register, log in, live popups, inbox, outbox, compose',
  // withServer brings --tls and --ca; --server is redefined for the remembered default.
  builder: (y: Argv) => withServer(y)
    .option('server', {
      type: 'string',
      describe: 'siar server as host:port (env SIAR_SERVER; else the one remembered in ~/.config/siar/)',
      default: process.env.SIAR_SERVER,
      defaultDescription: '$SIAR_SERVER, the remembered one, or 127.0.0.1:7400',
    })
    .option('user', { type: 'string', describe: 'username to log in with (else the remembered one)' })
    .option('mouse', { type: 'boolean', default: false, describe: 'scroll lists with the mouse wheel' })
    .option('notify', { type: 'boolean', default: false, describe: 'also raise a desktop notification per popup (notify-send on Linux, osascript on macOS)' }),
  handler: async (opts: TuiOpts) => {
    if (!process.stdin.isTTY || !process.stdout.isTTY) {
      throw new CliError('siar tui needs a terminal; for scripts use siar send, inbox, read and listen.');
    }
    // Loaded on demand: the other subcommands do not pay for blessed.
    const { runTui } = await import('../tui/index.js');
    await runTui({ server: opts.server, user: opts.user, mouse: opts.mouse, notify: opts.notify, ...tlsOptions(opts) });
  },
});

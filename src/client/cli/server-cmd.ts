import type { Argv } from 'yargs';
import { formatValue } from '../../server/option-kinds.js';
import { SERVER_OPTIONS, type OptionSpec } from '../../server/options.js';
import type { LogFormat } from '../../server/logger.js';
import { defineCommand, print, printJson } from './common.js';

type ServerArgs = Record<string, unknown> & { config?: string; 'print-config'?: boolean; json?: boolean };

/**
 * One flag per row of the option table, as text: the table's kinds read it (so `--busy-wait 5s`
 * and `--port 0` are checked the same way as the environment and the file), and no yargs default,
 * so a flag given can be told from one left to the environment, the file or the default.
 */
function withServerOptions(y: Argv): Argv {
  for (const spec of SERVER_OPTIONS) {
    y.option(spec.name, { type: 'string', requiresArg: true, group: spec.group, describe: helpText(spec), defaultDescription: defaultText(spec) });
  }
  return y;
}

function helpText(spec: OptionSpec): string {
  const zero = 'zero' in spec && spec.zero !== undefined ? ` (0: ${spec.zero})` : '';
  const choices = spec.kind === 'enum' ? ` [${spec.choices.join(', ')}]` : '';
  return `${spec.describe}${zero}${choices}`;
}

function defaultText(spec: OptionSpec): string {
  return spec.default === null ? spec.unset!.means : String(formatValue(spec, spec.default));
}

export const serverCommand = defineCommand<ServerArgs>({
  command: 'server',
  describe: 'run the siar server (embedded defaults: SQLite in --data, mail written to <data>/mail/)',
  builder: (y: Argv) => withServerOptions(y)
    .option('config', {
      type: 'string', requiresArg: true, group: 'Configuration:',
      describe: 'read settings from this YAML file, one `option: value` line each (e.g. max-connections: 1000; env SIAR_CONFIG)',
    })
    .option('print-config', { type: 'boolean', group: 'Configuration:', describe: 'print every setting in effect and where it comes from, then exit' })
    .option('json', { type: 'boolean', group: 'Configuration:', describe: 'with --print-config: one JSON object' })
    .check((a) => {
      if (a.json && !a['print-config']) throw new Error('--json goes with --print-config.');
      return true;
    })
    .epilog('Each option is also an environment variable, SIAR_ and its name in capitals with underscores '
      + '(--max-connections: SIAR_MAX_CONNECTIONS), and a key of the --config file (max-connections: 1000). '
      + 'A flag wins over the environment, the environment over the file, the file over the default. '
      + 'Sizes: 1048576, 500M, 1GiB; durations: 60 (seconds), 500ms, 30s, 10m, 24h, 7d. '
      + 'Every option: docs/SERVER-OPTIONS.md.'),
  handler: async (opts: ServerArgs) => {
    // Loaded here, not at the top: client commands should not pay for loading the server.
    const { effectiveSettings, resolveSettings, serverConfigOf, settingOf } = await import('./server-settings.js');
    const configFile = opts.config ?? (process.env.SIAR_CONFIG?.trim() || undefined);
    const settings = resolveSettings({ flags: opts, env: process.env, configFile });
    if (opts['print-config']) {
      const { printConfigJson, printConfigText } = await import('./server-settings-text.js');
      const effective = effectiveSettings(settings);
      if (opts.json) printJson(printConfigJson(effective, configFile));
      else print(printConfigText(effective, configFile));
      return;
    }
    const config = serverConfigOf(settings);
    const logFormat = (settingOf(settings, 'log-format').value ?? (process.stdout.isTTY ? 'pretty' : 'json')) as LogFormat;
    const { SiarServer } = await import('../../server/server.js');
    const { createConsoleLogger } = await import('../../server/logger.js');
    const server = await SiarServer.start(config, { logger: createConsoleLogger(config.logLevel!, logFormat) });
    if (configFile) server.log.info({ configFile }, 'settings read from the config file');
    const stop = (signal: string) => {
      server.log.info({ signal }, 'stopping');
      server.stop().then(() => process.exit(0), (err) => {
        server.log.error({ err }, 'stop failed');
        process.exit(1);
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // Keep running until a signal.
    await new Promise<never>(() => undefined);
  },
});

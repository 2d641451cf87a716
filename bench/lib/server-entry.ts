/**
 * `siar server` with one extra option, --max-connections, which the CLI does not expose. Used only
 * by the scale scenario's small validation run (to reach the connection limit with a few hundred
 * clients); every full run uses the real CLI (bin/siar.js server). Same options, same signals.
 */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { SiarServer } from '../../src/server/server.js';

const opts = await yargs(hideBin(process.argv))
  .option('host', { type: 'string', default: '127.0.0.1' })
  .option('port', { type: 'number', default: 7400 })
  .option('data', { type: 'string', default: 'data' })
  .option('log-level', { type: 'string', default: 'info' })
  .option('synchronous', { type: 'string', default: 'NORMAL', choices: ['NORMAL', 'FULL'] as const })
  .option('max-connections', { type: 'number', default: 19_000 })
  .strict()
  .parseAsync();

const server = await SiarServer.start({
  host: opts.host, port: opts.port, dataDir: opts.data, logLevel: opts['log-level'],
  synchronous: opts.synchronous as 'NORMAL' | 'FULL', maxConnections: opts['max-connections'],
});
const stop = (signal: string): void => {
  server.log.info({ signal }, 'stopping');
  server.stop().then(() => process.exit(0), (err: unknown) => {
    server.log.error({ err }, 'stop failed');
    process.exit(1);
  });
};
process.once('SIGINT', () => stop('SIGINT'));
process.once('SIGTERM', () => stop('SIGTERM'));

import type { Argv } from 'yargs';
import { SiarServer } from '../../server/server.js';
import { defineCommand } from './common.js';

type ServerOpts = {
  host: string; port: number; data: string; smtp?: string; 'mail-from'?: string; 'log-level': string;
  'max-frame': number; synchronous: 'NORMAL' | 'FULL';
};

export const serverCommand = defineCommand<ServerOpts>({
  command: 'server',
  describe: 'run the siar server (embedded defaults: SQLite in --data, mail written to <data>/mail/)',
  builder: (y: Argv) => y
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on' })
    .option('port', { type: 'number', default: 7400 })
    .option('data', { type: 'string', default: 'data', describe: 'data directory (database, mail, admin-password)' })
    .option('smtp', { type: 'string', describe: 'send mail over SMTP, e.g. smtp://user:pass@mail.example.ac.id:587 (env SIAR_SMTP)', default: process.env.SIAR_SMTP })
    .option('mail-from', { type: 'string', describe: 'From address of the mails', default: 'siar <siar@localhost>' })
    .option('log-level', { type: 'string', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] })
    .option('max-frame', { type: 'number', default: 64 * 1024, describe: 'longest frame in bytes' })
    .option('synchronous', { type: 'string', default: 'NORMAL', choices: ['NORMAL', 'FULL'], describe: 'SQLite durability (FULL survives power loss)' }),
  handler: async (opts: ServerOpts) => {
    const server = await SiarServer.start({
      host: opts.host, port: opts.port, dataDir: opts.data, smtpUrl: opts.smtp, mailFrom: opts['mail-from'],
      logLevel: opts['log-level'], maxFrameBytes: opts['max-frame'], synchronous: opts.synchronous,
    });
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

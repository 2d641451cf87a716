import { readFileSync } from 'node:fs';
import type { Argv } from 'yargs';
import { connectionConfigFromFlags, withConnectionFlags, type ConnectionFlags } from '../../server/connection-options.js';
import { transferConfigFromFlags, withTransferFlags, type TransferFlags } from '../../transfer/server-options.js';
import { flagValue, parseByteSize, parseDuration } from '../../transfer/units.js';
import { DEFAULT_THROTTLE } from '../../server/throttle.js';
import type { LogFormat } from '../../server/logger.js';
import { defineCommand } from './common.js';

type ServerOpts = {
  host: string; port: number; data: string; smtp?: string; 'mail-from'?: string; 'log-level': string; 'log-format': LogFormat;
  'max-frame': number; synchronous: 'NORMAL' | 'FULL'; 'registration-expiry-days': number;
  'tls-cert'?: string; 'tls-key'?: string; 'max-anonymous-per-address': number; 'max-connections'?: number; 'max-pending-registrations': number;
  'max-pending-registrations-total': number; 'max-sends-per-minute': number; 'member-quota': string; 'busy-wait': string;
  'login-lockout-failures': number; 'login-address-lockout-failures': number; 'login-alert-failures': number; 'login-lockout-minutes': number;
};

const LOGIN_LIMITS = ['login-lockout-failures', 'login-address-lockout-failures', 'login-alert-failures', 'login-lockout-minutes'] as const;

export const serverCommand = defineCommand<ServerOpts & TransferFlags & ConnectionFlags>({
  command: 'server',
  describe: 'run the siar server (embedded defaults: SQLite in --data, mail written to <data>/mail/)',
  builder: (y: Argv) => withConnectionFlags(withTransferFlags(y))
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on' })
    .option('port', { type: 'number', default: 7400 })
    .option('data', { type: 'string', default: 'data', describe: 'data directory (database, mail, admin-password)' })
    .option('smtp', { type: 'string', describe: 'send mail over SMTP, e.g. smtp://user:pass@mail.example.ac.id:587 (env SIAR_SMTP)', default: process.env.SIAR_SMTP })
    .option('mail-from', { type: 'string', describe: 'From address of the mails', default: 'siar <siar@localhost>' })
    .option('log-level', { type: 'string', default: 'info', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] })
    .option('log-format', {
      type: 'string', choices: ['pretty', 'json'], default: process.stdout.isTTY ? 'pretty' : 'json',
      defaultDescription: 'pretty on a terminal, json otherwise', describe: 'log lines for people (pretty) or one JSON object per line (json)',
    })
    .option('max-frame', { type: 'number', default: 64 * 1024, describe: 'longest frame in bytes' })
    .option('synchronous', { type: 'string', default: 'NORMAL', choices: ['NORMAL', 'FULL'], describe: 'SQLite durability (FULL survives power loss)' })
    .option('tls-cert', { type: 'string', describe: 'PEM certificate chain: TLS on the control port and every shadow listener' })
    .option('tls-key', { type: 'string', describe: 'PEM private key for --tls-cert' })
    .option('max-anonymous-per-address', { type: 'number', default: 64, describe: 'connections from one address that have not logged in' })
    .option('max-connections', {
      type: 'number',
      describe: 'control connections held at once; extra clients are refused with TOO_MANY_REQUESTS (default: the open-files limit, ulimit -Hn, '
        + 'minus a reserve of about 136 for the database, backups, mail and 16 transfers: 19,864 at 20,000; a larger value is lowered to that, with a warning)',
    })
    .option('max-pending-registrations', { type: 'number', default: 5, describe: 'registration requests one address may have waiting for a decision' })
    .option('max-pending-registrations-total', { type: 'number', default: 1000, describe: 'registration requests waiting for a decision from everyone at once (0 = no cap)' })
    .option('max-sends-per-minute', { type: 'number', default: 120, describe: 'messages one member may send in any minute; more are refused with RATE_LIMITED (0 = no limit)' })
    .option('member-quota', { type: 'string', default: '10GiB', describe: 'what one member\'s messages may take: subjects, bodies and attachments, e.g. 500MiB; more is refused with QUOTA_EXCEEDED (0 = no quota)' })
    .option('busy-wait', { type: 'string', default: '5s', describe: 'how long a write waits for a database lock held by another process (an sqlite3 shell) before answering BUSY' })
    .option('login-lockout-failures', { type: 'number', default: DEFAULT_THROTTLE.lockoutFailures, describe: 'wrong passwords for one username from one address that lock that pair (never the username everywhere)' })
    .option('login-address-lockout-failures', { type: 'number', default: DEFAULT_THROTTLE.addressLockoutFailures, describe: 'wrong passwords from one address, any usernames, that lock the address' })
    .option('login-alert-failures', { type: 'number', default: DEFAULT_THROTTLE.alertFailures, describe: 'wrong passwords for one username from all addresses that alert the administrator and slow further guesses (no lock)' })
    .option('login-lockout-minutes', { type: 'number', default: DEFAULT_THROTTLE.lockoutMs / 60_000, describe: 'how long a lock lasts and how long failures are counted' })
    .check((a) => {
      for (const flag of LOGIN_LIMITS) {
        if (!(Number.isInteger(a[flag]) && a[flag] >= 1)) throw new Error(`--${flag} must be a whole number of at least 1.`);
      }
      if (!a['tls-cert'] !== !a['tls-key']) throw new Error('--tls-cert and --tls-key go together.');
      const mc = a['max-connections'];
      if (mc !== undefined && !(Number.isInteger(mc) && mc >= 1)) throw new Error('--max-connections must be a whole number of at least 1.');
      for (const flag of ['max-pending-registrations-total', 'max-sends-per-minute'] as const) {
        const n = a[flag];
        if (!(Number.isInteger(n) && n >= 0)) throw new Error(`--${flag} must be a whole number, 0 or more.`);
      }
      return true;
    })
    .option('registration-expiry-days', { type: 'number', default: 30, describe: 'undecided registration requests expire after this many days (0 = never)' }),
  handler: async (opts: ServerOpts & TransferFlags & ConnectionFlags) => {
    // Loaded here, not at the top: client commands should not pay for loading the server.
    const { SiarServer } = await import('../../server/server.js');
    const { createConsoleLogger } = await import('../../server/logger.js');
    const server = await SiarServer.start({
      ...transferConfigFromFlags(opts),
      ...connectionConfigFromFlags(opts),
      host: opts.host, port: opts.port, dataDir: opts.data, smtpUrl: opts.smtp, mailFrom: opts['mail-from'],
      logLevel: opts['log-level'], maxFrameBytes: opts['max-frame'], synchronous: opts.synchronous,
      registrationExpiryDays: opts['registration-expiry-days'],
      maxAnonymousPerAddress: opts['max-anonymous-per-address'],
      maxConnections: opts['max-connections'],
      maxPendingRegistrationsPerAddress: opts['max-pending-registrations'],
      maxPendingRegistrations: opts['max-pending-registrations-total'],
      maxSendsPerMinute: opts['max-sends-per-minute'],
      memberQuotaBytes: flagValue('--member-quota', () => parseByteSize(opts['member-quota'])),
      busyWaitMs: flagValue('--busy-wait', () => parseDuration(opts['busy-wait'])),
      loginThrottle: {
        ...DEFAULT_THROTTLE,
        lockoutFailures: opts['login-lockout-failures'],
        addressLockoutFailures: opts['login-address-lockout-failures'],
        alertFailures: opts['login-alert-failures'],
        lockoutMs: opts['login-lockout-minutes'] * 60_000,
        windowMs: opts['login-lockout-minutes'] * 60_000,
      },
      tls: opts['tls-cert'] && opts['tls-key'] ? { cert: readFileSync(opts['tls-cert']), key: readFileSync(opts['tls-key']) } : null,
    }, { logger: createConsoleLogger(opts['log-level'], opts['log-format']) });
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

import { mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { encodePush } from '../protocol/index.js';
import { defaultConfig, type ServerConfig } from './config.js';
import { Connection } from './connection.js';
import { buildCommandTable } from './commands/index.js';
import type { Command, Services } from './commands/types.js';
import { createDispatcher } from './dispatcher.js';
import { createLogger } from './logger.js';
import { MailSealer } from './mail/seal.js';
import { createMailTransport } from './mail/transport.js';
import { MailWorker } from './mail/worker.js';
import { LocalRouter } from './router.js';
import { generatePassword, hashPassword } from './secrets.js';
import { SqliteStore } from './store/sqlite-store.js';

export const PROTOCOL_VERSION = 1;

export interface StartOptions {
  logger?: Logger;
  /** Commands contributed by other areas (attachments, channels…). */
  extraCommands?: Command[];
}

/** The siar control server: one TCP listener, the store, the router and the mail worker. */
export class SiarServer {
  private stopping: Promise<void> | null = null;

  private constructor(
    readonly config: ServerConfig,
    readonly log: Logger,
    readonly store: SqliteStore,
    readonly router: LocalRouter,
    readonly mailWorker: MailWorker,
    private readonly listener: net.Server,
  ) {}

  static async start(overrides: Partial<ServerConfig> = {}, options: StartOptions = {}): Promise<SiarServer> {
    const config = defaultConfig(overrides);
    const log = options.logger ?? createLogger(config.logLevel);
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const store = SqliteStore.open(path.join(config.dataDir, 'siar.db'), { synchronous: config.synchronous });
    await ensureAdminAccount(store, config.dataDir, log);

    const sealer = await MailSealer.open(config.dataDir);
    const transport = createMailTransport({ smtpUrl: config.smtpUrl, dataDir: config.dataDir });
    const mailWorker = new MailWorker({ store, transport, sealer, from: config.mailFrom, logger: log });
    mailWorker.start();

    const router = new LocalRouter();
    const services: Services = {
      config, store, router, log,
      mail: { seal: (text) => sealer.seal(text), kick: () => mailWorker.kick() },
    };
    const dispatch = createDispatcher(services, buildCommandTable(options.extraCommands));

    const listener = net.createServer((socket) => {
      if (router.connectionCount() >= config.maxConnections) {
        socket.end(`-|ERR|TOO_MANY_REQUESTS|The server is full; try again later.\n`);
        return;
      }
      const conn = new Connection(socket, config, log, dispatch);
      router.track(conn);
      conn.log.debug({ remote: conn.remoteAddress }, 'connected');
      conn.onClose(() => conn.log.debug('disconnected'));
      conn.send(encodePush('HELLO', { server: 'siar', protocol: PROTOCOL_VERSION, maxFrame: config.maxFrameBytes }));
    });
    listener.maxConnections = config.maxConnections + 100;
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(config.port, config.host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    const server = new SiarServer(config, log, store, router, mailWorker, listener);
    const { port } = server.address();
    log.info({ host: config.host, port, dataDir: config.dataDir, mail: transport.kind }, 'siar server listening');
    return server;
  }

  address(): { host: string; port: number } {
    const a = this.listener.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Stops accepting, tells every client, closes connections, the mail worker and the store. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()));
      for (const conn of this.router.connections()) conn.fail('SHUTTING_DOWN');
      await closed;
      await this.mailWorker.stop();
      await this.store.close();
      this.log.info('siar server stopped');
    })();
    return this.stopping;
  }
}

/** First start: creates `admin` with a random password, written once to <data>/admin-password (0600). */
async function ensureAdminAccount(store: SqliteStore, dataDir: string, log: Logger): Promise<void> {
  const password = generatePassword();
  const file = path.join(dataDir, 'admin-password');
  const created = await store.ensureAdmin(await hashPassword(password));
  if (!created) return;
  try {
    await rm(file, { force: true });
    await writeFile(file, password + '\n', { mode: 0o600, flag: 'wx' });
  } catch (err) {
    log.error({ err, file }, 'could not write the admin password file');
    throw err;
  }
  log.info({ file }, 'created the admin account; its password is in the admin-password file');
}

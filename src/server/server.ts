import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { encodePush } from '../protocol/index.js';
import { BackupService, isProcessAlive, readServerLock, removeServerLock, writeServerLock } from './backup.js';
import type { ServerConfig } from './config.js';
import { defaultConfig } from './default-config.js';
import { REFUSAL_SLACK, REFUSED_SOCKET_LINGER_MS, planConnectionCap, readOpenFilesLimit, watchFdExhaustion } from './fd-limit.js';
import { SERVER_FULL, admitConnection, adminReserve, holdReservedSlot } from './admission.js';
import { ClusterJob } from './cluster-job.js';
import { Connection, connectionShared } from './connection.js';
import { normalizeAddress } from '../core/address.js';
import { buildCommandTable } from './commands/index.js';
import { expireRegistrations } from './commands/admin-ops.js';
import { auditThrottleReports } from './commands/password-guard.js';
import type { Command, Services } from './commands/types.js';
import { createDispatcher } from './dispatcher.js';
import { createLogger, degradedLog, rateLimitedWarn } from './logger.js';
import { MailSealer } from './mail/seal.js';
import { createMailTransport } from './mail/transport.js';
import { MailWorker } from './mail/worker.js';
import type { MemoryRelease } from './memory-release.js';
import type { OutputBudget } from './output-budget.js';
import { ACCOUNT_CACHE_MAX_AGE_ON_BUS_MS, AccountCache } from './account-cache.js';
import { Router } from './router.js';
import { LocalConnections, SUSPENDED_SENTENCE } from './local-connections.js';
import { BusUnreachable } from '../core/ports/unreachable.js';
import { DueJobRunner, type Clock } from '../core/due-jobs.js';
import { alertJobHandler, scheduledDeliveries } from './alert-jobs.js';
import { pushRecalled } from './alerts.js';
import { popupOutlet, publishStored, replayPending } from './delivery.js';
import { DeliverySubscriber, PeriodicCatchUp } from '../core/services/delivery.js';
import { AttachmentExpirySweep } from './attachment-expiry.js';
import type { LoginThrottleState } from './throttle.js';
import { DiskFloor } from './disk-floor.js';
import { generatePassword, hashPassword } from './secrets.js';
import { TrafficStats } from './stats.js';
import { LoopLatenessMonitor } from './loop-lateness.js';
import { databaseFiles, openContent, openNode, openStore, storeLocation, type NodeAdapters } from '../adapters/index.js';
import type { AttachmentContent } from '../core/ports/content.js';
import type { Store } from '../core/ports/store.js';
import { maskSecret } from './option-kinds.js';
import { TransferService } from '../transfer/service.js';
import type { TransferDeps } from '../transfer/ports.js';
import { TransferBooks } from '../core/services/transfers.js';
import { attachmentCommands } from './commands/attachments.js';

export const PROTOCOL_VERSION = 1;

/** How often the holder of the mail queue's lease kicks its worker (which also polls by itself). */
const MAIL_QUEUE_CHECK_MS = 5_000;
/**
 * How often the node holding the lease writes the recipient rows of large-audience messages whose
 * storing node died before it could (their snapshots; every read of the store sees them meanwhile).
 */
const AUDIENCE_SNAPSHOT_CHECK_MS = 30_000;

/** The adapters a server runs on; each absent one is opened from the configuration (src/adapters/index.ts). */
export interface Adapters {
  /** The store; the server closes it when it stops. */
  store?: Store;
  /** The bus (whose nodeId names this node), presence, login throttle and traffic counters; in process when absent. */
  node?: NodeAdapters;
  /** Where attachment bytes live (default: what goes with the store, openContent); closed when the server stops. */
  content?: AttachmentContent;
}

export interface StartOptions {
  logger?: Logger;
  adapters?: Adapters;
  /** Commands contributed by other areas (attachments, channels…). */
  extraCommands?: Command[];
  /** The due-jobs runner's clock (scheduled deliveries, automatic reminders): tests move it; default the system's. */
  dueJobsClock?: Clock;
}

/** The siar control server: one TCP listener, the store, the router and the mail worker. */
export class SiarServer {
  private stopping: Promise<void> | null = null;
  /** Traffic counters (STATS); set once the server listens. */
  stats!: TrafficStats;
  /** How late the event loop runs (STATS); sampling from start to stop. */
  private loopLateness: LoopLatenessMonitor | null = null;
  /** Online backups (BACKUP). */
  backups!: BackupService;
  /** The once-per-cluster jobs this node takes part in (cluster-job.ts): each runs where its lease is held. */
  clusterJobs: ClusterJob[] = [];
  /** The periodic catch-up from the store (with a bus); tick() runs one pass at once. */
  catchUp: PeriodicCatchUp | null = null;
  private dueJobs: DueJobRunner | null = null;
  /** Removes expired messages' attachments after the grace period. */
  attachmentExpiry: AttachmentExpirySweep | null = null;
  private stopFdWatch: () => void = () => undefined;
  /** Output held for peers that do not take it, per address and in total (output-budget.ts). */
  output!: OutputBudget;
  /** Collections after a flood of peers that did not read (memory-release.ts). */
  private memoryRelease: MemoryRelease | null = null;
  /** Shadow listeners and attachments; liveListeners() counts the open ones. */
  transfers!: TransferService;
  /** The bus, presence and counters it runs on; closed at stop when the server opened them. */
  node: NodeAdapters | null = null;
  private ownsNode = false;
  /** Password brute-force protection; its counts of refused attempts reach the audit log. */
  throttle: LoginThrottleState | null = null;

  private constructor(
    readonly config: ServerConfig,
    readonly log: Logger,
    readonly store: Store,
    readonly router: Router,
    readonly mailWorker: MailWorker,
    private readonly listener: net.Server,
  ) {}

  static async start(overrides: Partial<ServerConfig> = {}, options: StartOptions = {}): Promise<SiarServer> {
    const config = defaultConfig(overrides);
    const log = options.logger ?? createLogger(config.logLevel);
    // The connection cap follows the open-files limit (fd-limit.ts): a --max-connections above what
    // it allows is clamped with a warning rather than refused, so a server restarted under a lower
    // limit still comes up and holds as many clients as it safely can.
    const cap = planConnectionCap(overrides.maxConnections, readOpenFilesLimit(), config);
    config.maxConnections = cap.maxConnections;
    const reserveAsked = config.adminReservedConnections;
    config.adminReservedConnections = adminReserve(reserveAsked, config.maxConnections);
    // The key that seals queued mail: the file every node shares (--mail-key-file), checked first (a
    // bad one refuses the start before anything is made or opened), or this node's own <data>/mail.key.
    const sharedKey = config.mailKeyFile ? await MailSealer.openFile(path.resolve(config.mailKeyFile)) : null;
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
    const sealer = sharedKey ?? await MailSealer.open(config.dataDir);
    const mailKeyFile = config.mailKeyFile ? path.resolve(config.mailKeyFile) : MailSealer.keyPath(config.dataDir);
    log.info({ mailKeyFile, mailKey: sealer.fingerprint }, 'queued mail is sealed with this mail key');
    if (config.bus && !config.mailKeyFile) {
      log.warn(
        { mailKeyFile, mailKey: sealer.fingerprint },
        'with --bus and no --mail-key-file this node seals queued mail with a key of its own: mail it queues (an approval\'s password) '
          + 'is sent only by a node with the same key, and not at all while none runs; give every node the same --mail-key-file',
      );
    }
    // The composition root: the store given, or the one --store names (SQLite in <data> by default).
    const store = options.adapters?.store ?? await openStore(config, log);
    await ensureAdminAccount(store, config.dataDir, log);
    await recoverFromUncleanStop(store, config.dataDir, log);
    await materialiseSnapshots(store, log);

    const transport = createMailTransport({ smtpUrl: config.smtpUrl ?? undefined, dataDir: config.dataDir });
    // On several nodes the queue's mail goes out from the one node holding its lease (below).
    let mailQueue: ClusterJob | null = null;
    const mailWorker = new MailWorker({
      store, transport, sealer, from: config.mailFrom, logger: log, sendsHere: () => mailQueue?.holding ?? false,
    });
    mailWorker.start();

    // The bus, presence, login throttle and traffic counters: given, or in process.
    const node = options.adapters?.node ?? await openNode({
      bus: config.bus, nodeId: config.nodeId ?? `${os.hostname()}:${config.port === 0 ? `pid${process.pid}` : config.port}`, clusterName: config.clusterName,
      statsHistoryMinutes: config.statsHistoryMinutes, loginThrottle: config.loginThrottle,
      maxSendsPerMinute: config.maxSendsPerMinute, maxReportsPerMinute: config.maxReportsPerMinute,
    }, log);
    const { bus, presence } = node;
    if (config.clusterName && !config.bus) log.warn({ clusterName: config.clusterName }, '--cluster-name has no effect without --bus');
    // Each mail key's queue has a lease of its own: where every node shares one key (--mail-key-file),
    // one node sends all the mail; where keys differ, each key's mail still goes out, from a node
    // holding that key (the others leave it queued, and say so once: worker.ts).
    mailQueue = new ClusterJob({
      name: `mail-queue:${sealer.fingerprint}`, leases: node.leases, ttlMs: config.leaseTtlMs, intervalMs: MAIL_QUEUE_CHECK_MS, log, run: () => mailWorker.kick(),
    });
    const clusterJobs = [mailQueue];
    mailQueue.start();
    const nodeId = bus.nodeId;
    const degraded = degradedLog(log);
    const local = new LocalConnections({
      node: nodeId, presence,
      onError: (err) => {
        if (err instanceof BusUnreachable) degraded(err, 'presence is written again when it is back (ONLINE elsewhere misses this node\'s members meanwhile)');
        else log.error({ err }, 'a presence write failed');
      },
    });
    // Sessions, members and recipients' ids kept between commands: forgotten on the bus's word, and
    // trusted for at most a few seconds where the bus (Redis) may lose an event without a reconnection.
    const accounts = new AccountCache({ maxAgeMs: config.bus ? ACCOUNT_CACHE_MAX_AGE_ON_BUS_MS : Infinity });
    const router = new Router(local, bus, presence, (err) => log.error({ err }, 'a bus publish failed'), accounts, degraded);
    router.start();
    // Not sampling yet: a start that fails before listening leaves no timer behind.
    const loopLateness = new LoopLatenessMonitor();
    const stats = new TrafficStats({
      historyMinutes: config.statsHistoryMinutes,
      loopLateness,
      counters: {
        port: node.counters, node: nodeId,
        onError: (err) => {
          if (err instanceof BusUnreachable) degraded(err, 'traffic counters are written again when it is back (STATS answers BUSY meanwhile)');
          else log.error({ err }, 'traffic counters could not be written');
        },
      },
      connections: () => router.connectionCount(),
      liveBytes: () => {
        let bytesIn = 0;
        let bytesOut = 0;
        for (const c of router.connections()) {
          bytesIn += c.socket.bytesRead;
          bytesOut += c.socket.bytesWritten;
        }
        return { bytesIn, bytesOut };
      },
    });
    // Every node's counts are since it started, as its own STATS figures are.
    await node.counters.restart(nodeId).catch((err) => log.error({ err }, 'traffic counters could not be reset for this node'));
    const backups = new BackupService({ store, dataDir: config.dataDir, log, inspect: databaseFiles.inspect });
    const services: Services = {
      config, store, router, accounts, bus, log, stats, backups,
      throttle: node.throttle,
      sendRate: node.sendRate,
      reportRate: node.reportRate,
      diskFloor: new DiskFloor(config),
      mail: { seal: (text) => sealer.seal(text), kick: () => mailWorker.kick() },
    };
    services.throttle.onReport = auditThrottleReports(services);
    // A bus that may have lost events meanwhile: every connection here catches up from the store.
    bus.onReconnect(() => {
      // What was kept of members may have changed unheard: read again.
      accounts.forgetAll();
      // A Redis that restarted has forgotten who is online here (it keeps no copy on disk): told again.
      void local.presentAll();
      // A suspension decided on another node while this one could not hear it: closed now.
      closeSuspended(store, local).catch((err) => log.error({ err }, 'checking for suspensions after the bus reconnected failed'));
      // What was missed goes out before what is heard from now on: the bus holds its events until this settles.
      const replays: Promise<unknown>[] = [];
      for (const conn of local.connections()) {
        if (conn.user && conn.wantsPopups) replays.push(replayPending(services, conn).catch((err) => log.error({ err }, 'catch-up after the bus reconnected failed')));
      }
      return Promise.all(replays);
    });
    const outlet = popupOutlet(local);
    new DeliverySubscriber({
      store, outlet, counters: stats, bus, onError: (err, messageId) => log.error({ err, messageId }, 'delivery failed'),
    }).start();
    // With a bus between nodes a wake-up can be lost: every --catch-up-interval the store says what
    // this node's connections have not had. (In process a wake-up cannot be lost.)
    const catchUp = new PeriodicCatchUp({
      store, outlet, counters: stats, intervalMs: config.bus ? config.catchUpIntervalMs : 0,
      onError: (err) => log.error({ err }, 'the periodic catch-up failed; the next one tries again'),
    });
    // Admin sessions hear at once whether a mail (e.g. the credentials of an approval) went out.
    mailWorker.on('sent', (id) => { router.pushToAdmins('MAIL', { id, status: 'sent' }); });
    mailWorker.on('failed', (id, error) => { router.pushToAdmins('MAIL', { id, status: 'failed', error }); });
    // Shadow listeners for attachments (src/transfer, docs/PROTOCOL-transfer.md).
    // Attachment content follows the store (src/adapters/index.ts): files beside SQLite, chunks in PostgreSQL.
    // It gets its ports (src/transfer/ports.ts), not the server's services: transfer/ imports no server module.
    const transferDeps: TransferDeps = {
      config, books: new TransferBooks(store), router, log,
      // A correction's recipients of the message it replaces see it withdrawn just before its popup (as at SEND).
      deliver: (message, institution, replaced) => {
        if (replaced) pushRecalled(router, replaced);
        publishStored(services, message, institution);
      },
    };
    const content = options.adapters?.content ?? await openContent(store, config.dataDir);
    const transfers = new TransferService(transferDeps, content);
    services.transfers = transfers;
    // Traffic statistics read the shadow listeners and transfers from the transfer service.
    stats.transfers = {
      liveListeners: () => transfers.liveListeners(),
      inProgress: () => transfers.list().map((x) => ({
        id: x.transfer, name: x.name, direction: x.direction === 'download' ? 'down' : 'up', bytes: x.bytes, size: x.size, user: x.username,
      })),
    };
    await transfers.start();
    const dispatch = createDispatcher(services, buildCommandTable([...attachmentCommands, ...(options.extraCommands ?? [])]));

    // A refused socket is told why, then let go: destroyed within REFUSED_SOCKET_LINGER_MS even if
    // the peer never closes (its descriptor is part of the reserve), and a reset is not an error.
    const refuse = (socket: net.Socket, line: string): void => {
      socket.on('error', () => undefined);
      socket.setTimeout(REFUSED_SOCKET_LINGER_MS, () => socket.destroy());
      socket.end(line);
    };
    const warnFull = rateLimitedWarn(log, 'connection refused: server full');
    const warnAnonymous = rateLimitedWarn(log, 'connection refused: too many anonymous connections from one address');
    const warnReserved = rateLimitedWarn(log, 'connection taken on a slot kept for the administrator: only an administrator LOGIN may follow');
    const shared = connectionShared(config, log);
    const onSocket = (socket: net.Socket): void => {
      const address = normalizeAddress(socket.remoteAddress);
      const admission = admitConnection(config, local, address);
      if (!admission.admit) {
        refuse(socket, `-|ERR|TOO_MANY_REQUESTS|${admission.reason}\n`);
        if (admission.reason === SERVER_FULL) warnFull({ connections: router.connectionCount(), maxConnections: config.maxConnections });
        else warnAnonymous({ address });
        return;
      }
      const conn = new Connection(socket, config, log, dispatch, shared);
      local.track(conn);
      if (admission.reservedSlot) {
        holdReservedSlot(conn, config);
        warnReserved({ address, connections: router.connectionCount(), reserved: config.adminReservedConnections });
      }
      stats.connectionOpened();
      conn.onClose(() => stats.connectionClosed(socket.bytesRead, socket.bytesWritten));
      conn.log.debug({ remote: conn.remoteAddress }, 'connected');
      conn.onClose(() => conn.log.debug('disconnected'));
      // The limits a client can check before sending, to say in its own terms what is too long.
      conn.send(encodePush('HELLO', {
        server: 'siar', protocol: PROTOCOL_VERSION, maxFrame: config.maxFrameBytes, maxBody: config.maxBodyChars, maxSubject: config.maxSubjectChars,
      }));
    };
    // TLS when configured (clients verify the server; --ca for a private CA). A TLS socket reaches
    // onSocket once its handshake is done, so nothing before that costs a Connection.
    const listener = config.tls
      ? tls.createServer({ cert: config.tls.cert, key: config.tls.key, handshakeTimeout: 10_000 }, onSocket)
      : net.createServer(onSocket);
    if (config.tls) listener.on('tlsClientError', (err) => log.debug({ err: err.message }, 'TLS handshake failed'));
    // Past the cap plus the few being told "full", Node closes new sockets at once, unread.
    listener.maxConnections = config.maxConnections + REFUSAL_SLACK;
    const warnDropped = rateLimitedWarn(log, 'connection dropped without a reply: server full and already refusing many');
    listener.on('drop', (d) => warnDropped({ remote: d?.remoteAddress }));
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(config.port, config.host, () => {
        listener.off('error', reject);
        resolve();
      });
    });
    // After listening an 'error' is a failed accept() (EMFILE/ENFILE when libuv has no spare
    // descriptor left): the listener goes on listening, so log it and carry on.
    const errorAccepting = rateLimitedWarn(log, 'accept failed; still listening', 'error');
    listener.on('error', (err: NodeJS.ErrnoException) => errorAccepting({ code: err.code, err: err.message, connections: router.connectionCount() }));
    const server = new SiarServer(config, log, store, router, mailWorker, listener);
    const { port } = server.address();
    server.stats = stats;
    server.loopLateness = loopLateness;
    server.transfers = transfers;
    server.backups = backups;
    server.memoryRelease = shared.memory;
    server.output = shared.output;
    server.throttle = services.throttle;
    server.node = node;
    server.ownsNode = !options.adapters?.node;
    services.throttle.start();
    server.catchUp = catchUp;
    catchUp.start();
    loopLateness.start();
    stats.start();
    await writeServerLock(config.dataDir, { pid: process.pid, host: config.host, port, startedAt: new Date().toISOString() });
    // Requests left undecided expire (with a notice to the registrant): now, then periodically, on
    // the one node of the cluster that holds the sweep's lease.
    const expiry = new ClusterJob({
      name: 'registration-expiry', leases: node.leases, ttlMs: config.leaseTtlMs, intervalMs: config.registrationExpiryCheckMs, log,
      run: async () => {
        const expired = await expireRegistrations(services, null);
        log.debug({ expired }, 'registration expiry sweep');
      },
    });
    // Large audiences' snapshots a dead node left unmaterialised, once per cluster (at start-up too, above).
    const snapshots = new ClusterJob({
      name: 'audience-snapshots', leases: node.leases, ttlMs: config.leaseTtlMs, intervalMs: AUDIENCE_SNAPSHOT_CHECK_MS, log,
      run: () => materialiseSnapshots(store, log),
    });
    server.clusterJobs.push(...clusterJobs, expiry, snapshots);
    expiry.start();
    snapshots.start();
    // Scheduled deliveries and automatic reminders (issue 21): claimed from the store, once per cluster.
    server.dueJobs = new DueJobRunner({
      store, owner: `${nodeId}:${process.pid}:${randomUUID().slice(0, 8)}`, handle: alertJobHandler(services), handleDeliveries: scheduledDeliveries(services),
      onError: (err, job) => log.error({ err, job }, 'a due job failed; it is tried again when its claim runs out'),
      intervalMs: DUE_JOBS_INTERVAL_MS, ...(options.dueJobsClock ? { clock: options.dueJobsClock } : {}),
    });
    server.dueJobs.start();
    // Expired messages' attachments go after their grace (--expired-attachment-grace): now, then periodically.
    server.attachmentExpiry = new AttachmentExpirySweep(
      { store, content, stats, log, graceMs: () => config.expiredAttachmentGraceMs },
      { intervalMs: config.transferSweepIntervalMs },
    );
    server.attachmentExpiry.start();
    // On EMFILE libuv cuts the client off silently; the probe makes it a log line.
    server.stopFdWatch = watchFdExhaustion(config.fdCheckIntervalMs, ({ exhausted, code }) => {
      const fields = { code, openFilesLimit: cap.openFilesLimit, connections: router.connectionCount(), maxConnections: config.maxConnections, liveTransfers: transfers.liveListeners() };
      if (exhausted) log.error(fields, 'open-files limit reached: new connections are cut off and no file can be opened; raise ulimit -n or lower --max-connections');
      else log.warn(fields, 'open-files available again');
    });
    if (cap.source === 'clamped') {
      log.warn({ requested: overrides.maxConnections, maxConnections: cap.maxConnections, openFilesLimit: cap.openFilesLimit, reserve: cap.reserve },
        '--max-connections is above what the open-files limit allows (limit minus the reserve for the database, transfers and the rest); using the most it allows: raise ulimit -n to hold more');
    }
    if (config.adminReservedConnections < reserveAsked) {
      log.warn({ requested: reserveAsked, adminReserved: config.adminReservedConnections, maxConnections: config.maxConnections },
        '--admin-reserved-connections is more than half of --max-connections; keeping half for the administrator');
    }
    // Shadow listeners bind to --transfer-host when given: a public one is as exposed as the control port.
    const exposed = [config.host, config.transferHost].filter((h): h is string => h !== null && !isLoopback(h));
    if (!config.tls && exposed.length > 0) {
      log.warn({ host: config.host, transferHost: config.transferHost ?? undefined },
        'listening on a non-loopback address without TLS: passwords, messages and attachments cross the network in clear; '
        + 'start the server with --tls-cert FILE --tls-key FILE (PEM) and give clients --ca FILE or --tls');
    }
    // The first line a person reads: where it listens, where data and mail go, where the admin password is.
    log.info({
      host: config.host, port, dataDir: path.resolve(config.dataDir), store: describeStore(config), mail: transport.destination,
      adminPassword: await adminPasswordWhereabouts(config.dataDir), tls: !!config.tls, maxConnections: config.maxConnections,
      ...(config.bus ? { node: nodeId, cluster: config.clusterName } : {}),
    }, 'siar server listening');
    log.info({ maxConnections: cap.maxConnections, source: cap.source, openFilesLimit: cap.openFilesLimit, reserve: cap.reserve, adminReserved: config.adminReservedConnections }, 'connection limit');
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
      const deadline = Date.now() + this.config.shutdownDeadlineMs;
      // Uploads and downloads under way finish first, while their control connections can still
      // hear the outcome; then in-flight commands commit and answer, and every client hears why.
      await this.transfers?.drain(this.config.shutdownDeadlineMs);
      const left = Math.max(1000, deadline - Date.now());
      await Promise.all(this.router.connections().map((conn) => conn.shutdown(left)));
      await closed;
      // Every shadow listener, data socket and partial file settles before the store closes.
      await this.transfers?.stop();
      await Promise.all(this.clusterJobs.map((job) => job.stop()));
      await this.catchUp?.stop(); // one under way settles before the store closes
      await this.dueJobs?.stop();
      await this.attachmentExpiry?.stop();
      await this.throttle?.stop(); // writes the counts it still holds while the store is open
      this.stopFdWatch();
      this.memoryRelease?.stop();
      this.stats?.stop();
      this.loopLateness?.stop();
      // A backup under way finishes first: closing the store would break it.
      await this.backups?.running?.done.catch(() => undefined);
      await this.mailWorker.stop();
      this.router.local.stopPresence();
      if (this.node && this.ownsNode) {
        const { bus, presence, counters, leases, sendRate, reportRate } = this.node;
        await presence.removeNode(bus.nodeId).catch(() => undefined);
        await Promise.allSettled([bus.close(), presence.close(), counters.close(), leases.close(), sendRate.stop(), reportRate.stop()]);
      }
      await this.store.close();
      await removeServerLock(this.config.dataDir).catch(() => undefined);
      this.log.info('siar server stopped');
    })();
    return this.stopping;
  }
}

/**
 * How far back from its newest message a killed server's deliveries recorded at commit are doubted:
 * a popup follows its commit within milliseconds (a 10,000-member broadcast's within a fraction of a
 * second), so this is wide; each doubted popup is replayed once more (clients show an id once). A
 * wider window only replays more: a minute replayed 5,333 of 7,896 popups in an 8-kill crash run.
 */
const DOUBTFUL_DELIVERY_WINDOW_MS = 5_000;

/** How often the due-jobs runner looks for scheduled deliveries and reminders that have come due. */
const DUE_JOBS_INTERVAL_MS = 1000;

/**
 * A lock left by a process that is gone means the last server life was killed (a clean stop
 * removes it). Its last popups may have been recorded delivered at commit without reaching the
 * socket (delivery.ts): those are replayed at their recipients' next login.
 */
async function recoverFromUncleanStop(store: Store, dataDir: string, log: Logger): Promise<void> {
  const lock = await readServerLock(dataDir);
  if (!lock || isProcessAlive(lock.pid)) return;
  const reopened = await store.reopenDeliveriesMarkedAtCommit(DOUBTFUL_DELIVERY_WINDOW_MS);
  log.warn({ previousPid: lock.pid, startedAt: lock.startedAt, reopened },
    'the last server life did not stop cleanly: its last deliveries recorded at commit will be replayed at the next login');
}

/**
 * Writes the recipient rows of every large-audience message whose storing process stopped before it
 * could (MessageStore.materialiseSnapshots): those recipients get the popups at their next login.
 */
async function materialiseSnapshots(store: Store, log: Logger): Promise<void> {
  const materialised = await store.materialiseSnapshots();
  if (materialised > 0) log.info({ materialised }, 'wrote the recipient rows of large-audience messages left without them');
}

/** The store for the start-up line: the SQLite file, or the PostgreSQL URL without its password. */
function describeStore(config: ServerConfig): string {
  const where = storeLocation(config.store, config.dataDir);
  return where.engine === 'sqlite' ? where.file : maskSecret(where.url);
}

/** Where the admin password is, for the start-up line (its path, never the password). */
async function adminPasswordWhereabouts(dataDir: string): Promise<string> {
  const file = path.resolve(dataDir, ADMIN_PASSWORD_FILE);
  const present = await stat(file).then(() => true, () => false);
  return present ? file : `${file} was removed (it is written once, when the admin account is created)`;
}

const ADMIN_PASSWORD_FILE = 'admin-password';

/** First start: creates `admin` with a random password, written once to <data>/admin-password (0600). */
async function ensureAdminAccount(store: Store, dataDir: string, log: Logger): Promise<void> {
  const password = generatePassword();
  const file = path.resolve(dataDir, ADMIN_PASSWORD_FILE);
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


function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\./i.test(host);
}

/**
 * Closes this node's connections of members the store says are suspended: the bus event that
 * would have closed them may have been lost while Redis was unreachable (one listing of members,
 * on reconnection only).
 */
async function closeSuspended(store: Store, local: LocalConnections): Promise<void> {
  const here = new Set(local.loggedInMembers());
  if (here.size === 0) return;
  for (const member of await store.listMembers()) {
    if (member.status !== 'active' && here.has(member.id)) {
      local.disconnectSessions(member.id, { all: true }, 'SESSION_CLOSED', SUSPENDED_SENTENCE);
    }
  }
}

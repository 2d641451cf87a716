import path from 'node:path';
import { ConfigStore } from '../config-store.js';
import { parseServerList } from '../connection.js';
import { DesktopNotifier } from '../notify.js';
import { PendingUploads } from '../pending-uploads.js';
import { SiarSession, type SessionOptions } from '../session.js';
import { TuiController, describe, type TuiTransfers } from './controller.js';
import { attachTerminal } from './terminal.js';
import { createTransfers } from './transfers.js';

export interface TuiOptions {
  /** `host:port`; else the remembered one; else 127.0.0.1:7400. */
  server?: string;
  user?: string;
  mouse?: boolean;
  /** Settings folder (default $XDG_CONFIG_HOME/siar or ~/.config/siar). */
  configDir?: string;
  /** TLS to the server (from --tls / --ca); attachment transfers use the same trust. */
  tls?: SessionOptions['tls'];
  /** A desktop notification per popup (notify.ts). */
  notify?: boolean;
}

/** Runs the terminal client until the person quits. */
export async function runTui(opts: TuiOptions = {}): Promise<void> {
  const store = new ConfigStore(opts.configDir);
  const saved = store.load();
  const pending = saved.pendingRegistration;
  let server = opts.server?.trim() || saved.server || '127.0.0.1:7400';
  try {
    parseServerList(server);
  } catch {
    server = '127.0.0.1:7400';
  }
  const username = opts.user || saved.username || pending?.username;
  const firstRun = !saved.username && !opts.user && !pending;
  const notice = pending
    ? `Your registration request #${pending.id} (${pending.username}) awaits the administrator; the password comes by e-mail to ${pending.email}.`
    : null;

  const session = new SiarSession({ address: server, ...(opts.tls ? { tls: opts.tls } : {}) });
  const transfers: TuiTransfers = createTransfers(session, new PendingUploads(path.join(store.dir, 'uploads')));
  let notifier: DesktopNotifier | null = null;
  const controller = new TuiController({
    session, config: store, server, username, firstRun, notice, transfers, onNewPopup: (p) => notifier?.notify(p),
  });
  const terminal = attachTerminal(controller, { mouse: opts.mouse });
  // Told once on the status line (no notifier, or it fails); popups show on screen either way.
  if (opts.notify) notifier = new DesktopNotifier((text) => controller.dispatch({ type: 'toast', text, kind: 'error' }));

  // An unexpected failure somewhere in a callback is shown, not fatal: the client runs all day.
  const onRejection = (err: unknown) => controller.dispatch({ type: 'toast', text: `Unexpected error: ${describe(err)}`, kind: 'error' });
  const onException = (err: Error) => {
    terminal.destroy();
    process.stderr.write(`siar tui: ${err.stack ?? err.message}\n`);
    process.exit(1);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);

  const done = new Promise<void>((resolve) => controller.once('quit', resolve));
  const onSignal = () => controller.emit('quit');
  process.once('SIGTERM', onSignal);
  process.once('SIGHUP', onSignal);
  controller.start();
  await done;

  controller.stop();
  terminal.destroy();
  process.off('SIGTERM', onSignal);
  process.off('SIGHUP', onSignal);
  await session.logout().catch(() => undefined);
  await session.close();
  process.off('unhandledRejection', onRejection);
  process.off('uncaughtException', onException);
}

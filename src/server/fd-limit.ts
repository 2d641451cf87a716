/**
 * How many control connections one server process can hold: every connection is a file
 * descriptor, and so is everything else the process keeps open. The cap follows the process's
 * open-files limit (RLIMIT_NOFILE) minus a reserve for the rest, so that a full server still has
 * descriptors for its database, backups, mail and attachment transfers, and the extra clients are
 * refused with a clear error instead of being cut off by the kernel (EMFILE).
 */
import { closeSync, openSync, readFileSync } from 'node:fs';

/** The default before the cap followed the limit; still used where the limit cannot be read. */
export const FALLBACK_MAX_CONNECTIONS = 19_000;

/**
 * Sockets accepted beyond the cap only to be told "server full" (net.Server.maxConnections is the
 * cap plus this; past it Node closes new sockets at once, without the message). Each is destroyed
 * within REFUSED_SOCKET_LINGER_MS, so they are at most this many descriptors at any time.
 */
export const REFUSAL_SLACK = 16;
export const REFUSED_SOCKET_LINGER_MS = 5_000;

/** Transfers the reserve keeps descriptors for even when every connection slot is taken. */
export const TRANSFERS_AT_FULL = 16;

/**
 * The reserve, in descriptors, by what uses them. Measured on Node 20 / Linux: an idle `siar server`
 * holds 35 descriptors (stdio, libuv's epoll, eventfds and signal pipes, its spare descriptor for
 * EMFILE, tsx, the SQLite database with its -wal and -shm files, the control listener, and the WAL
 * checkpoint worker's event loop and its own connection to the database).
 */
export function fdReserve(config: { maxTransfers: number }): { total: number; parts: Record<string, number> } {
  const parts: Record<string, number> = {
    // The 35 measured at idle, rounded up: a Node upgrade or a library may open a few more.
    process: 48,
    // BACKUP: the copy being written and its journal, the integrity check's own connection to the
    // copy, an attachment copy's source and target (copyFile).
    backup: 6,
    // The mail worker: one SMTP connection, or one file in <data>/mail.
    mail: 2,
    // Extra clients being told TOO_MANY_REQUESTS (see REFUSAL_SLACK).
    refusing: REFUSAL_SLACK,
    // A live transfer holds its shadow listener, the peer's data connection (the listener closes
    // once the peer is accepted, a candidate being examined may overlap) and the attachment file:
    // 3 each. Kept for TRANSFERS_AT_FULL of them, or --max-transfers if that is lower. The rest of
    // --max-transfers only fits while the server is not full: reserving 3 × 256 would cost 768
    // logged-in members to serve a burst of transfers that rarely comes when the server is full.
    transfers: 3 * Math.min(Math.max(0, config.maxTransfers), TRANSFERS_AT_FULL),
    // Descriptors opened for a moment: a command reading a file, DNS, the EMFILE probe.
    margin: 16,
  };
  return { total: Object.values(parts).reduce((a, b) => a + b, 0), parts };
}

/** The connection cap a limit allows: the limit minus the reserve (at least 1). */
export function connectionsAllowed(limit: number, config: { maxTransfers: number }): number {
  return Math.max(1, Math.floor(limit) - fdReserve(config).total);
}

export interface ConnectionCap {
  maxConnections: number;
  /** The open-files limit the cap was computed from; null when it could not be read. */
  openFilesLimit: number | null;
  reserve: number;
  /** default: limit − reserve; requested: --max-connections as given; clamped: it was above what the limit allows; fallback: no limit readable. */
  source: 'default' | 'requested' | 'clamped' | 'fallback';
}

/**
 * The cap: the requested value when the limit allows it, else the most the limit allows (clamped,
 * the caller warns); without a request, the most the limit allows; without a readable limit, the
 * request or FALLBACK_MAX_CONNECTIONS.
 */
export function planConnectionCap(requested: number | undefined, openFilesLimit: number | null, config: { maxTransfers: number }): ConnectionCap {
  const reserve = fdReserve(config).total;
  if (openFilesLimit === null || !Number.isFinite(openFilesLimit)) {
    return { maxConnections: requested ?? FALLBACK_MAX_CONNECTIONS, openFilesLimit: null, reserve, source: requested === undefined ? 'fallback' : 'requested' };
  }
  const allowed = connectionsAllowed(openFilesLimit, config);
  if (requested === undefined) return { maxConnections: allowed, openFilesLimit, reserve, source: 'default' };
  if (requested > allowed) return { maxConnections: allowed, openFilesLimit, reserve, source: 'clamped' };
  return { maxConnections: requested, openFilesLimit, reserve, source: 'requested' };
}

/**
 * This process's soft open-files limit (the one that applies), from /proc/self/limits; null where
 * there is no such file (not Linux) or it says "unlimited". Node raises the soft limit to the hard
 * one at start-up, so this is normally `ulimit -Hn` of the shell that started the server.
 */
export function readOpenFilesLimit(file = '/proc/self/limits'): number | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  return parseOpenFilesLimit(text);
}

export function parseOpenFilesLimit(limitsText: string): number | null {
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limitsText);
  if (!m) return null;
  const soft = Number(m[1]);
  return Number.isFinite(soft) && soft > 0 ? soft : null;
}

/**
 * Watches for descriptor exhaustion. When accept() fails with EMFILE, libuv accepts the connection
 * on a spare descriptor and closes it at once: the client is cut off and Node hears nothing. So the
 * server probes, every intervalMs, whether it can still open a file, and reports when it cannot
 * (and when it can again). Returns a stop function.
 */
export function watchFdExhaustion(intervalMs: number, report: (event: { exhausted: boolean; code?: string }) => void): () => void {
  if (intervalMs <= 0) return () => undefined;
  let exhausted = false;
  const timer = setInterval(() => {
    const code = probeOpen();
    if (code && !exhausted) {
      exhausted = true;
      report({ exhausted: true, code });
    } else if (!code && exhausted) {
      exhausted = false;
      report({ exhausted: false });
    }
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** EMFILE / ENFILE when no descriptor can be opened now; undefined when one can. */
function probeOpen(): string | undefined {
  try {
    closeSync(openSync('/dev/null', 'r'));
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EMFILE' || code === 'ENFILE' ? code : undefined;
  }
}

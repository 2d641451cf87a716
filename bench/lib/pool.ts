/**
 * Many logged-in lean clients: connect + LOGIN with bounded concurrency, spread over 127.0.0.x
 * source addresses, with one shared keepalive (PING for clients idle 2 minutes, so a long login
 * phase does not hit the server's 5-minute idle timeout).
 */
import { progress } from './env.js';
import { BenchError, LeanClient } from './lean-client.js';

export interface LoginStats {
  requested: number;
  loggedIn: number;
  /** Failures by code (server error codes, or socket errors). */
  errors: Record<string, number>;
  wallMs: number;
  loginsPerSec: number;
}

export interface ConnectManyOptions {
  port: number;
  usernames: string[];
  password: string;
  /** Parallel connect+login in flight (logins are scrypt-bound on the server). */
  concurrency?: number;
  /** Source addresses to spread over, e.g. 127.0.0.2…; default 127.0.0.1 only. */
  localAddresses?: string[];
  scope?: string;
  /** Called for every client that logged in, before the next starts (wire popup handlers here). */
  onClient?: (client: LeanClient, index: number) => void;
  /** Keep failed clients out of the result (default); the result array then has holes as undefined. */
}

/** `count` source addresses 127.0.0.2 … (all on loopback: Linux routes 127/8 to lo). */
export function loopbackAddresses(count: number, first = 2): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.0.${first + i}`);
}

export async function connectMany(opts: ConnectManyOptions): Promise<{ clients: (LeanClient | undefined)[]; stats: LoginStats }> {
  const { usernames } = opts;
  const clients: (LeanClient | undefined)[] = new Array(usernames.length);
  const errors: Record<string, number> = {};
  const concurrency = Math.min(opts.concurrency ?? 32, usernames.length);
  const addrs = opts.localAddresses && opts.localAddresses.length > 0 ? opts.localAddresses : [undefined];
  const started = performance.now();
  let next = 0;
  let loggedIn = 0;
  let lastReport = started;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= usernames.length) return;
      const username = usernames[i]!;
      try {
        const client = await LeanClient.connect({ port: opts.port, localAddress: addrs[i % addrs.length] });
        const reply = await client.login(username, opts.password);
        if (!reply.ok) {
          errors[reply.code] = (errors[reply.code] ?? 0) + 1;
          client.close();
          continue;
        }
        clients[i] = client;
        loggedIn++;
        opts.onClient?.(client, i);
      } catch (err) {
        const code = err instanceof BenchError ? err.code : 'ERROR';
        errors[code] = (errors[code] ?? 0) + 1;
      }
      const now = performance.now();
      if (now - lastReport > 5000) {
        lastReport = now;
        const rate = loggedIn / ((now - started) / 1000);
        progress(opts.scope ?? 'login', `${loggedIn}/${usernames.length} logged in (${rate.toFixed(0)}/s)${Object.keys(errors).length ? ` errors ${JSON.stringify(errors)}` : ''}`);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const wallMs = performance.now() - started;
  return {
    clients,
    stats: { requested: usernames.length, loggedIn, errors, wallMs, loginsPerSec: loggedIn / (wallMs / 1000) },
  };
}

/** PINGs clients that wrote nothing for `idleMs`; returns a stop function. */
export function keepalive(clients: () => Iterable<LeanClient | undefined>, idleMs = 120_000): () => void {
  const timer = setInterval(() => {
    const now = performance.now();
    for (const c of clients()) {
      if (c && !c.isClosed && now - c.lastWrite > idleMs) c.request('PING', {}, '').catch(() => undefined);
    }
  }, 10_000);
  timer.unref();
  return () => clearInterval(timer);
}

/** Closes every client and waits briefly for the sockets to go. */
export async function closeAll(clients: Iterable<LeanClient | undefined>): Promise<void> {
  const waits: Promise<void>[] = [];
  for (const c of clients) {
    if (!c || c.socket.destroyed) continue;
    waits.push(new Promise((resolve) => {
      c.socket.once('close', () => resolve());
      c.close();
    }));
  }
  await Promise.race([Promise.all(waits), new Promise((r) => setTimeout(r, 5000))]);
}

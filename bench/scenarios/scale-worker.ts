/**
 * A child harness process for the scale and cluster scenarios: holds a slice of the clients from its
 * own source address, reports login progress, and the arrival times (wall clock, ms) of broadcasts.
 * For the cluster scenario it also spreads its clients over several nodes, holds Redis subscribers
 * for the pub/sub comparison, and fails its clients over to another node when theirs goes away
 * (RESUME with the session token, as SiarSession does).
 * Messages from the parent: login, arm, status, trim, redis-subscribe, redis-close, failover-arm,
 * failover-status, close. Started with fork(…, { execArgv: ['--import=tsx'] }).
 */
import { epochMs } from '../lib/env.js';
import { BenchError, LeanClient } from '../lib/lean-client.js';
import { keepalive } from '../lib/pool.js';
import { RespClient } from '../lib/redis.js';

export type ToWorker =
  /** `ports`: client j logs in to ports[(offset + j) % ports.length] (a cluster); else `port`. */
  | { type: 'login'; port: number; ports?: number[]; offset?: number; usernames: string[]; password: string; localAddress: string; concurrency: number }
  /** `source: 'redis'` times the Redis subscribers' messages instead of siar's popups. */
  | { type: 'arm'; tag: string; timeoutMs: number; source?: 'siar' | 'redis' }
  | { type: 'status' }
  /** Keeps the first `keep` clients (closes the others). */
  | { type: 'trim'; keep: number }
  /** One subscriber per siar client, subscriber j on ports[(offset + j) % ports.length]. */
  | { type: 'redis-subscribe'; ports: number[]; offset: number; channel: string; concurrency: number }
  | { type: 'redis-close' }
  /** From now on: every popup's id is recorded per client, and a client whose node goes away fails over. */
  | { type: 'failover-arm'; ports: number[] }
  | { type: 'failover-status'; ids: string[] }
  | { type: 'close' };

export interface FailoverStatus {
  type: 'failover-status';
  clients: number;
  /** Clients whose connection was lost (their node killed). */
  lost: number;
  /** …and that are attached to their session again on another node (RESUME OK); epoch ms of each. */
  resumedAt: number[];
  /** RESUME refusals and connect failures by code. */
  errors: Record<string, number>;
  /** Clients that have not (yet) had a popup of each of the ids asked about. */
  missing: Record<string, number>;
  /** Epoch ms of the last arrival of each id asked about, at a client that failed over. */
  lastArrivalMoved: Record<string, number>;
  /** Popups received twice by one client (at-least-once: the client deduplicates). */
  duplicates: number;
}

export type FromWorker =
  | { type: 'progress'; loggedIn: number; errors: Record<string, number> }
  | { type: 'logged-in'; loggedIn: number; errors: Record<string, number>; wallMs: number; perPort: Record<string, number> }
  | { type: 'armed'; tag: string }
  | { type: 'arrivals'; tag: string; times: number[]; expected: number; ids: string[]; lineBytes: number }
  | { type: 'status'; open: number; closedCodes: Record<string, number>; perPort: Record<string, number> }
  | { type: 'trimmed'; open: number; perPort: Record<string, number> }
  | { type: 'redis-subscribed'; subscribed: number; errors: Record<string, number> }
  | { type: 'redis-closed' }
  | { type: 'failover-armed' }
  | FailoverStatus;

const clients: LeanClient[] = [];
/** The port each client is connected to. */
const portOf: number[] = [];
const closedCodes: Record<string, number> = {};
let subscribers: RespClient[] = [];
/** This worker's source address (from the login message). */
let localAddress: string | undefined;
const send = (m: FromWorker): void => { process.send?.(m); };
keepalive(() => clients);

function perPort(): Record<string, number> {
  const out: Record<string, number> = {};
  clients.forEach((c, j) => { if (!c.isClosed) out[portOf[j]!] = (out[portOf[j]!] ?? 0) + 1; });
  return out;
}

const count = (rec: Record<string, number>, code: string): void => { rec[code] = (rec[code] ?? 0) + 1; };

/** Runs `job(i)` for i = 0 … n−1 with `concurrency` in flight. */
async function inParallel(n: number, concurrency: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      await job(i);
    }
  }));
}

async function login(m: Extract<ToWorker, { type: 'login' }>): Promise<void> {
  const errors: Record<string, number> = {};
  localAddress = m.localAddress;
  let loggedIn = 0;
  const started = performance.now();
  const timer = setInterval(() => send({ type: 'progress', loggedIn, errors }), 2000);
  await inParallel(m.usernames.length, m.concurrency, async (i) => {
    const port = m.ports ? m.ports[((m.offset ?? 0) + i) % m.ports.length]! : m.port;
    try {
      const c = await LeanClient.connect({ port, localAddress: m.localAddress, timeoutMs: 60_000 });
      const r = await c.login(m.usernames[i]!, m.password);
      if (!r.ok) {
        count(errors, r.code);
        c.close();
        return;
      }
      c.onClose = (code) => count(closedCodes, code);
      clients.push(c);
      portOf.push(port);
      loggedIn++;
    } catch (err) {
      count(errors, err instanceof BenchError ? err.code : 'ERROR');
    }
  });
  clearInterval(timer);
  send({ type: 'logged-in', loggedIn, errors, wallMs: performance.now() - started, perPort: perPort() });
}

function arm(m: Extract<ToWorker, { type: 'arm' }>): void {
  const times: number[] = [];
  const ids = new Set<string>();
  const redis = m.source === 'redis';
  const expected = redis ? subscribers.length : clients.filter((c) => !c.isClosed).length;
  let lineBytes = 0;
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (redis) for (const s of subscribers) s.onMessage = null;
    else for (const c of clients) c.onPopup = null;
    send({ type: 'arrivals', tag: m.tag, times, expected, ids: [...ids], lineBytes });
  };
  const arrived = (at: number): void => {
    times.push(performance.timeOrigin + at);
    if (times.length >= expected) finish();
  };
  if (redis) {
    for (const s of subscribers) s.onMessage = (_payload, at) => arrived(at);
  } else {
    for (const c of clients) {
      c.onPopup = (line, at) => {
        lineBytes = Buffer.byteLength(line) + 1;
        ids.add(line.slice(11, line.indexOf('|', 11)));
        arrived(at);
      };
    }
  }
  const timer = setTimeout(finish, m.timeoutMs);
  send({ type: 'armed', tag: m.tag });
}

function trim(keep: number): void {
  for (const c of clients.splice(keep)) {
    c.onClose = null;
    c.close();
  }
  portOf.splice(keep);
  send({ type: 'trimmed', open: clients.filter((c) => !c.isClosed).length, perPort: perPort() });
}

async function redisSubscribe(m: Extract<ToWorker, { type: 'redis-subscribe' }>): Promise<void> {
  const errors: Record<string, number> = {};
  const subs: RespClient[] = new Array(clients.length);
  await inParallel(clients.length, m.concurrency, async (j) => {
    try {
      const s = await RespClient.connect(m.ports[(m.offset + j) % m.ports.length]!, localAddress);
      await s.subscribe(m.channel);
      subs[j] = s;
    } catch (err) {
      count(errors, (err as NodeJS.ErrnoException).code ?? 'ERROR');
    }
  });
  subscribers = subs.filter((s) => s !== undefined);
  send({ type: 'redis-subscribed', subscribed: subscribers.length, errors });
}

// --- failover: what SiarSession does when its node goes away (src/client/session.ts): wait a random
// --- moment within the first backoff step (1 s), try the next node of the list, the one after at once
// --- if that fails, back off only after a whole round failed; then RESUME with the session's token.
const seen: Map<string, number>[] = [];
const lostIndexes = new Set<number>();
const resumedAt = new Map<number, number>();
const failoverErrors: Record<string, number> = {};
const lastArrivalMoved = new Map<string, number>();
let duplicates = 0;
let failoverPorts: number[] = [];

function watchPopups(j: number, c: LeanClient): void {
  countPopups(j, c);
  watchClose(j, c);
}

/** Records client j's popups by id (set before RESUME: the replayed popups come in the reply's chunk). */
function countPopups(j: number, c: LeanClient): void {
  c.onPopup = (line) => {
    const id = line.slice(11, line.indexOf('|', 11));
    const ids = seen[j]!;
    const n = ids.get(id) ?? 0;
    if (n > 0) duplicates++;
    ids.set(id, n + 1);
    if (lostIndexes.has(j)) lastArrivalMoved.set(id, Math.max(lastArrivalMoved.get(id) ?? 0, epochMs()));
  };
}

function watchClose(j: number, c: LeanClient): void {
  c.onClose = (code) => {
    count(closedCodes, code);
    if (code !== 'CLOSED') return; // told to go (a closing error): not a node lost
    lostIndexes.add(j);
    void failOver(j, c.token, c.username);
  };
}

function failoverArm(ports: number[]): void {
  failoverPorts = ports;
  clients.forEach((c, j) => {
    seen[j] = new Map();
    watchPopups(j, c);
  });
  send({ type: 'failover-armed' });
}

async function failOver(j: number, token: string, username: string): Promise<void> {
  const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
  const n = failoverPorts.length;
  let at = failoverPorts.indexOf(portOf[j]!);
  await sleep(Math.random() * 1000);
  for (let attempt = 1; attempt <= 60; attempt++) {
    at = (at + 1) % n;
    const port = failoverPorts[at]!;
    try {
      const c = await LeanClient.connect({ port, localAddress, timeoutMs: 10_000 });
      countPopups(j, c);
      const r = await c.request('RESUME', { token }, '');
      if (!r.ok) {
        count(failoverErrors, r.code);
        c.close();
      } else {
        c.token = token;
        c.username = username;
        clients[j] = c;
        portOf[j] = port;
        watchClose(j, c);
        resumedAt.set(j, epochMs());
        return;
      }
    } catch (err) {
      count(failoverErrors, err instanceof BenchError ? err.code : 'ERROR');
    }
    if (attempt % n === 0) await sleep(Math.min(30_000, 1000 * 2 ** (attempt / n - 1)) * (1 - 0.2 * Math.random()));
  }
}

function failoverStatus(ids: string[]): FailoverStatus {
  const missing: Record<string, number> = {};
  for (const id of ids) missing[id] = 0;
  clients.forEach((_, j) => {
    for (const id of ids) if (!seen[j]?.has(id)) missing[id]!++;
  });
  const last: Record<string, number> = {};
  for (const id of ids) if (lastArrivalMoved.has(id)) last[id] = lastArrivalMoved.get(id)!;
  return {
    type: 'failover-status', clients: clients.length, lost: lostIndexes.size, resumedAt: [...resumedAt.values()],
    errors: failoverErrors, missing, lastArrivalMoved: last, duplicates,
  };
}

process.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'login': void login(m); break;
    case 'arm': arm(m); break;
    case 'status': send({ type: 'status', open: clients.filter((c) => !c.isClosed).length, closedCodes, perPort: perPort() }); break;
    case 'trim': trim(m.keep); break;
    case 'redis-subscribe': void redisSubscribe(m); break;
    case 'redis-close':
      for (const s of subscribers) s.close();
      subscribers = [];
      send({ type: 'redis-closed' });
      break;
    case 'failover-arm': failoverArm(m.ports); break;
    case 'failover-status': send(failoverStatus(m.ids)); break;
    case 'close':
      for (const c of clients) {
        c.onClose = null;
        c.close();
      }
      for (const s of subscribers) s.close();
      setTimeout(() => process.exit(0), 500);
      break;
  }
});
process.on('disconnect', () => process.exit(0));

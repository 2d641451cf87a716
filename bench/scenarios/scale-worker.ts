/**
 * A child harness process for the scale scenario: holds a slice of the clients from its own source
 * address, reports login progress, and the arrival times (wall clock, ms) of broadcasts.
 * Messages from the parent: login, arm, close. Started with fork(…, { execArgv: ['--import=tsx'] }).
 */
import { BenchError, LeanClient } from '../lib/lean-client.js';
import { keepalive } from '../lib/pool.js';

export type ToWorker =
  | { type: 'login'; port: number; usernames: string[]; password: string; localAddress: string; concurrency: number }
  | { type: 'arm'; tag: string; timeoutMs: number }
  | { type: 'status' }
  | { type: 'close' };

export type FromWorker =
  | { type: 'progress'; loggedIn: number; errors: Record<string, number> }
  | { type: 'logged-in'; loggedIn: number; errors: Record<string, number>; wallMs: number }
  | { type: 'armed'; tag: string }
  | { type: 'arrivals'; tag: string; times: number[]; expected: number; ids: string[] }
  | { type: 'status'; open: number; closedCodes: Record<string, number> };

const clients: LeanClient[] = [];
const closedCodes: Record<string, number> = {};
const send = (m: FromWorker): void => { process.send?.(m); };
keepalive(() => clients);

async function login(m: Extract<ToWorker, { type: 'login' }>): Promise<void> {
  const errors: Record<string, number> = {};
  let next = 0;
  let loggedIn = 0;
  const started = performance.now();
  const timer = setInterval(() => send({ type: 'progress', loggedIn, errors }), 2000);
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= m.usernames.length) return;
      try {
        const c = await LeanClient.connect({ port: m.port, localAddress: m.localAddress, timeoutMs: 60_000 });
        const r = await c.login(m.usernames[i]!, m.password);
        if (!r.ok) {
          errors[r.code] = (errors[r.code] ?? 0) + 1;
          c.close();
          continue;
        }
        c.onClose = (code) => { closedCodes[code] = (closedCodes[code] ?? 0) + 1; };
        clients.push(c);
        loggedIn++;
      } catch (err) {
        const code = err instanceof BenchError ? err.code : 'ERROR';
        errors[code] = (errors[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: m.concurrency }, worker));
  clearInterval(timer);
  send({ type: 'logged-in', loggedIn, errors, wallMs: performance.now() - started });
}

function arm(m: Extract<ToWorker, { type: 'arm' }>): void {
  const times: number[] = [];
  const ids = new Set<string>();
  const expected = clients.filter((c) => !c.isClosed).length;
  let done = false;
  const finish = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    for (const c of clients) c.onPopup = null;
    send({ type: 'arrivals', tag: m.tag, times, expected, ids: [...ids] });
  };
  for (const c of clients) {
    c.onPopup = (line, at) => {
      times.push(performance.timeOrigin + at);
      ids.add(line.slice(11, line.indexOf('|', 11)));
      if (times.length >= expected) finish();
    };
  }
  const timer = setTimeout(finish, m.timeoutMs);
  send({ type: 'armed', tag: m.tag });
}

process.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'login': void login(m); break;
    case 'arm': arm(m); break;
    case 'status': send({ type: 'status', open: clients.filter((c) => !c.isClosed).length, closedCodes }); break;
    case 'close':
      for (const c of clients) c.close();
      setTimeout(() => process.exit(0), 500);
      break;
  }
});
process.on('disconnect', () => process.exit(0));

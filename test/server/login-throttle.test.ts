/**
 * Brute-force protection that an attacker cannot turn against the owner (issue 20, item 3), on a
 * real server over real sockets: attackers play other hosts from 127.0.0.0/8 (`localAddress`).
 */
import net from 'node:net';
import t from 'tap';
import type { RemoteError } from '../../src/client/connection.js';
import type { Args } from '../../src/protocol/index.js';
import { DEFAULT_THROTTLE, type ThrottleOptions } from '../../src/server/throttle.js';
import { clientFrom, loginCode, sqliteDb, startServer, type TestServer } from '../helpers/siar.js';

function throttle(o: Partial<ThrottleOptions>): ThrottleOptions {
  return { ...DEFAULT_THROTTLE, baseDelayMs: 5, maxDelayMs: 20, ...o };
}


function auditRows(s: TestServer, kind: string, address?: string): Array<{ subject: string | null; address: string | null; detail: string }> {
  const rows = sqliteDb(s.server).prepare<[string], { subject: string | null; address: string | null; detail: string }>(
    'SELECT subject, address, detail FROM audit_events WHERE kind = ? ORDER BY id',
  ).all(kind);
  return address === undefined ? rows : rows.filter((r) => r.address === address);
}

function countAudit(s: TestServer): number {
  return sqliteDb(s.server).prepare<[], number>('SELECT count(*) FROM audit_events').pluck().get()!;
}

/** The database's logical size (pages, the write-ahead log's included). */
function databaseBytes(s: TestServer): number {
  const db = sqliteDb(s.server);
  return (db.pragma('page_count', { simple: true }) as number) * (db.pragma('page_size', { simple: true }) as number);
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

t.test('wrong passwords from another address lock that address out, not the owner: the right password from the owner\'s address gets in', async (t) => {
  const s = await startServer(t, { loginThrottle: throttle({ lockoutFailures: 10 }) });
  const attacker = await clientFrom(t, s, '127.0.0.2');
  const codes: string[] = [];
  for (let i = 0; i < 12; i++) codes.push(await loginCode(attacker, 'admin', `guess-${i}`));
  t.same(codes, [...Array(10).fill('BAD_CREDENTIALS'), 'LOGIN_LOCKED', 'LOGIN_LOCKED'], 'the attacker\'s pair is locked after 10 failures');
  t.equal(await loginCode(attacker, 'admin', s.adminPassword()), 'LOGIN_LOCKED', 'even the right password is refused from the locked pair');
  const owner = await clientFrom(t, s, '127.0.0.1');
  const who = await owner.login('admin', s.adminPassword());
  t.equal(who.username, 'admin', 'the administrator logs in from its own address');
  t.equal(auditRows(s, 'login_lockout').length, 1, 'the lockout is audited once');
});

t.test('parallel guesses are counted before the hash: no more are checked than the limit allows', async (t) => {
  const s = await startServer(t, { loginThrottle: throttle({ lockoutFailures: 10 }) });
  await s.member('target');
  const clients = await Promise.all(Array.from({ length: 60 }, () => clientFrom(t, s, '127.0.0.3')));
  const codes = await Promise.all(clients.map((c, i) => loginCode(c, 'target', `parallel-guess-${i}`)));
  const count = (code: string): number => codes.filter((c) => c === code).length;
  t.comment(`60 parallel guesses: ${count('BAD_CREDENTIALS')} checked (BAD_CREDENTIALS), ${count('LOGIN_LOCKED')} refused unchecked (LOGIN_LOCKED)`);
  t.equal(count('BAD_CREDENTIALS') + count('LOGIN_LOCKED'), 60, 'every guess answered, none accepted');
  t.ok(count('BAD_CREDENTIALS') <= 10, 'at most the 10 allowed guesses reached the password hash');
  t.equal(auditRows(s, 'login_failed', '127.0.0.3').length, count('BAD_CREDENTIALS'), 'one login_failed row per checked guess');
  const owner = await clientFrom(t, s, '127.0.0.1');
  t.equal(await loginCode(owner, 'target', 'own-password-of-target'), 'OK', 'the owner is not locked out');
});

t.test('an address guessing across many usernames is locked as an address; other addresses are not', async (t) => {
  const s = await startServer(t, { loginThrottle: throttle({ lockoutFailures: 3, addressLockoutFailures: 5 }) });
  const { password } = await s.member('target');
  const sprayer = await clientFrom(t, s, '127.0.0.4');
  const codes: string[] = [];
  for (const name of ['ana', 'budi', 'citra', 'dewi', 'eko', 'fajar']) codes.push(await loginCode(sprayer, name, 'Password123'));
  t.same(codes, ['BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'LOGIN_LOCKED'], 'five failures from one address lock the address');
  t.equal(await loginCode(sprayer, 'target', password), 'LOGIN_LOCKED', 'a locked address is refused for every username');
  t.equal(await loginCode(await clientFrom(t, s, '127.0.0.1'), 'target', password), 'OK', 'another address is not');
});

t.test('failures against one username from many addresses alert the administrator and slow down, but never lock', async (t) => {
  const s = await startServer(t, {
    loginThrottle: throttle({ freeFailures: 1, baseDelayMs: 300, maxDelayMs: 600, lockoutFailures: 4, alertFailures: 6 }),
  });
  const { password } = await s.member('target');
  const admin = await s.adminClient();
  const alerts: Args[] = [];
  admin.on('push', (event, args) => { if (event === 'LOGIN_ALERT') alerts.push(args); });
  for (const address of ['127.0.0.5', '127.0.0.6']) {
    const c = await clientFrom(t, s, address);
    for (let i = 0; i < 3; i++) t.equal(await loginCode(c, 'target', `distributed-${address}-${i}`), 'BAD_CREDENTIALS');
  }
  await until('the LOGIN_ALERT push', () => alerts.length > 0, 5000).catch(() => undefined);
  t.equal(alerts.length, 1, 'one alert pushed to the administrator');
  t.match(alerts[0]?.get('username'), 'target');
  t.equal(alerts[0]?.get('failures'), '6');
  t.match(alerts[0]?.get('addresses'), /127\.0\.0\.5/);
  t.equal(auditRows(s, 'login_alert').length, 1, 'the alert is audited');
  t.equal(auditRows(s, 'login_lockout').length, 0, 'no pair reached its lock');

  // A fresh address's first wrong guess is slowed by the username's signal; its right password is not.
  const fresh = await clientFrom(t, s, '127.0.0.7');
  const started = Date.now();
  t.equal(await loginCode(fresh, 'target', 'one-more-guess'), 'BAD_CREDENTIALS');
  t.ok(Date.now() - started >= 280, `a failed guess on the alerted username waits (${Date.now() - started} ms)`);
  const owner = await clientFrom(t, s, '127.0.0.1');
  t.equal(await loginCode(owner, 'target', password), 'OK', 'the owner logs in: the username is never locked');
});

t.test('PASSWD old= is throttled and audited like LOGIN', async (t) => {
  const s = await startServer(t, { loginThrottle: throttle({ freeFailures: 1, lockoutFailures: 4 }) });
  const { password } = await s.member('pw');
  const c = await s.memberClient('pw');
  const codes: string[] = [];
  for (let i = 0; i < 6; i++) {
    codes.push(await c.request('PASSWD', { old: `oracle-guess-${i}`, new: 'a-new-password-1' }).then(() => 'OK', (err: RemoteError) => err.code));
  }
  t.same(codes, ['BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'BAD_CREDENTIALS', 'LOGIN_LOCKED', 'LOGIN_LOCKED'], 'locked after 4 wrong current passwords');
  await t.rejects(c.request('PASSWD', { old: password, new: 'a-new-password-1' }), { code: 'LOGIN_LOCKED' }, 'the right one is refused meanwhile');
  t.equal(auditRows(s, 'password_change_failed').length, 4, 'each checked guess audited');
  t.equal(auditRows(s, 'login_lockout').length, 1, 'the lockout audited');
  t.equal((await c.request('WHOAMI')).args.get('username'), 'pw', 'the session itself goes on');
});

/** Sends LOGINs for a locked pair as fast as the server answers, from `connections` sockets; returns how many were answered. */
async function hammerLockedPair(port: number, localAddress: string, username: string, ms: number, connections = 8): Promise<{ answered: number; locked: number }> {
  const end = Date.now() + ms;
  let answered = 0;
  let locked = 0;
  await Promise.all(Array.from({ length: connections }, () => new Promise<void>((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress });
    let id = 0;
    let inFlight = 0;
    let buffer = '';
    const send = (n: number): void => {
      let out = '';
      for (let i = 0; i < n; i++) out += `${++id}|LOGIN||username=${username}|password=hammer-${id}\n`;
      inFlight += n;
      socket.write(out);
    };
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      buffer += d;
      let nl;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('*|')) {
          if (line.startsWith('*|HELLO')) send(32);
          continue;
        }
        answered++;
        inFlight--;
        if (line.includes('|ERR|LOGIN_LOCKED|')) locked++;
        if (Date.now() < end) send(1);
        else if (inFlight === 0) socket.end();
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve());
  })));
  return { answered, locked };
}

t.test('attempts on a locked pair write one audit row per lock, with the count, and the owner still gets in', async (t) => {
  // SIAR_LOCKED_HAMMER_MS: a longer attack, for the figures in docs/RELIABILITY.md.
  const hammerMs = Number(process.env.SIAR_LOCKED_HAMMER_MS ?? 2000);
  const lockoutMs = hammerMs + 4000;
  const s = await startServer(t, {
    maxAnonymousPerAddress: 64,
    loginThrottle: throttle({ lockoutFailures: 3, lockoutMs, windowMs: lockoutMs, reportIntervalMs: 200 }),
  });
  const { password } = await s.member('target');
  const attacker = await clientFrom(t, s, '127.0.0.9');
  for (let i = 0; i < 3; i++) await loginCode(attacker, 'target', `lock-${i}`);
  t.equal(await loginCode(attacker, 'target', 'locked-now'), 'LOGIN_LOCKED', 'the pair is locked');
  const lockedAt = Date.now();

  const rows0 = countAudit(s);
  const bytes0 = databaseBytes(s);
  const started = Date.now();
  const hammering = hammerLockedPair(s.port, '127.0.0.9', 'target', hammerMs);
  // The owner logs in from its own address while the attack runs.
  await new Promise((r) => setTimeout(r, 500));
  const owner = await clientFrom(t, s, '127.0.0.1');
  const loginStarted = performance.now();
  const ownerCode = await loginCode(owner, 'target', password);
  const ownerMs = Math.round(performance.now() - loginStarted);
  const { answered, locked } = await hammering;
  const seconds = (Date.now() - started) / 1000;
  const rows = countAudit(s) - rows0;
  const grown = databaseBytes(s) - bytes0;
  const tracked = (s.server as { throttle?: { size: number } | null }).throttle?.size ?? 'n/a';
  t.comment(`locked pair hammered ${seconds.toFixed(1)} s: ${answered} attempts (${Math.round(answered / seconds)}/s), ${rows} audit rows written `
    + `(${Math.round(rows / seconds)}/s), database +${(grown / 1024).toFixed(0)} KiB (${((grown / seconds) * 60 / 1e6).toFixed(1)} MB/min), `
    + `${tracked} throttle entries; the owner's login from its own address: ${ownerCode} in ${ownerMs} ms`);
  t.ok(answered >= 500, 'the hammer ran');
  t.equal(locked, answered, 'every attempt refused');
  t.equal(ownerCode, 'OK', 'the owner logs in meanwhile');
  t.ok(rows <= 2, `no audit row per refused attempt (${rows} written during the attack)`);

  // When the lock ends, one row tells how many attempts it refused.
  await until('the coalesced login_locked row', () => auditRows(s, 'login_locked', '127.0.0.9').length > 0, lockoutMs + 10_000);
  const coalesced = auditRows(s, 'login_locked', '127.0.0.9');
  t.equal(coalesced.length, 1, 'one row for the whole lock');
  const detail = JSON.parse(coalesced[0]!.detail) as { attempts: number; scope: string };
  t.equal(detail.attempts, answered + 1, 'with the count of refused attempts');
  t.equal(detail.scope, 'pair');
  t.ok(Date.now() - lockedAt >= lockoutMs - 100, 'written once the lock is over');
});

import { once } from 'node:events';
import net from 'node:net';
import t, { type Test } from 'tap';
import { waitFor } from '../helpers/server-connection.js';
import { DEFAULT_THROTTLE, LoginThrottle, type ThrottleOptions, type ThrottleReport } from '../../src/adapters/memory/login-throttle.js';
import type { Connection } from '../../src/server/connection.js';
import { RawPeer, ownPassword, startServer, type TestServer } from '../helpers/siar.js';
import { DataPeer, noise, offer, rawUpload, sendDeclared, sha256 } from '../transfer/helpers.js';

const OPTIONS: ThrottleOptions = {
  freeFailures: 2, baseDelayMs: 100, maxDelayMs: 400, lockoutFailures: 5, addressLockoutFailures: 8, lockoutMs: 1000, windowMs: 5000,
  alertFailures: 6, maxKeys: 100, reportIntervalMs: 1000,
};

/** One whole attempt: begun, then failed (or refused before the check). */
function failOnce(th: LoginThrottle, username: string, address: string): { refused: boolean; delayMs: number; lockedNow: string | null; alert: boolean } {
  const started = th.begin(username, address);
  if (started.refused) return { refused: true, delayMs: 0, lockedNow: null, alert: false };
  const o = started.attempt.fail();
  return { refused: false, delayMs: o.delayMs, lockedNow: o.lockedNow, alert: o.alert !== null };
}

t.test('the login throttle slows, then locks, the (username, address) pair; other pairs go on; the lock ends and counting restarts', async (t) => {
  let now = 0;
  const th = new LoginThrottle({ ...OPTIONS, alertFailures: 100 }, () => now);
  const outcomes = Array.from({ length: 5 }, () => failOnce(th, 'u', '10.0.0.1'));
  t.same(outcomes.map((o) => o.delayMs), [0, 0, 100, 200, 400], 'free failures, then doubling delays');
  t.same(outcomes.map((o) => o.lockedNow), [null, null, null, null, 'pair'], 'the fifth failure locks the pair');
  t.match(th.begin('u', '10.0.0.1'), { refused: { scope: 'pair', locked: true } }, 'the pair is locked');
  const owner = th.begin('u', '10.0.0.2');
  t.ok(owner.attempt, 'the same username from another address is not');
  owner.attempt?.succeed();
  const other = th.begin('other', '10.0.0.1');
  t.ok(other.attempt, 'nor another username from the same address');
  other.attempt?.succeed();
  now += 1001;
  const after = failOnce(th, 'u', '10.0.0.1');
  t.same(after, { refused: false, delayMs: 100, lockedNow: null, alert: false }, 'the lock ends and the pair counts again, slowed only by its address\'s failures');
  now += 10_000;
  t.equal(th.begin('u', '10.0.0.1').attempt?.fail().delayMs, 0, 'old failures are forgotten');
});

t.test('attempts under way count before their outcome; a success clears its pair', async (t) => {
  const th = new LoginThrottle(OPTIONS, () => 0);
  const running = Array.from({ length: 5 }, () => th.begin('u', '10.0.0.1').attempt);
  t.ok(running.every(Boolean), 'five checks may run at once');
  t.match(th.begin('u', '10.0.0.1'), { refused: { scope: 'pair', locked: false } }, 'a sixth is refused before its hash');
  for (const a of running) a?.succeed();
  t.ok(th.begin('u', '10.0.0.1').attempt, 'once they succeeded the pair is free');
});

t.test('an address failing across usernames locks as an address; one username failing from many addresses alerts and slows, never locks', async (t) => {
  const th = new LoginThrottle({ ...OPTIONS, addressLockoutFailures: 4 }, () => 0);
  for (const name of ['a', 'b', 'c']) failOnce(th, name, '10.0.0.9');
  t.equal(failOnce(th, 'd', '10.0.0.9').lockedNow, 'address', 'the fourth failure from one address locks it');
  t.match(th.begin('e', '10.0.0.9'), { refused: { scope: 'address', locked: true } });

  const spread = new LoginThrottle(OPTIONS, () => 0);
  const alerts = [];
  for (let i = 0; i < 12; i++) {
    const o = failOnce(spread, 'victim', `10.1.0.${i}`);
    t.equal(o.refused, false, `guess ${i + 1} from a new address is checked`);
    if (o.alert) alerts.push(i);
  }
  t.same(alerts, [5], 'one alert, at the sixth failure');
  t.equal(spread.begin('victim', '10.1.0.99').attempt?.fail().delayMs, 400, 'every further failure on the username is slowed');
  t.ok(spread.begin('victim', '10.1.0.100').attempt, 'and the username is never locked');
});

t.test('refused attempts are reported once per lock with their count; an alert window once it ends; stop reports the rest', async (t) => {
  let now = 0;
  const th = new LoginThrottle(OPTIONS, () => now);
  const reports: ThrottleReport[] = [];
  th.onReport = (r) => reports.push(r);
  for (let i = 0; i < 5; i++) failOnce(th, 'u', '10.0.0.1');
  for (let i = 0; i < 1000; i++) th.begin('u', '10.0.0.1');
  th.sweep();
  t.same(reports, [], 'nothing reported while the lock holds');
  now += 1001;
  th.sweep();
  t.match(reports, [{ kind: 'refused', scope: 'pair', username: 'u', address: '10.0.0.1', attempts: 1000 }], 'one report for the lock');
  th.sweep();
  t.equal(reports.length, 1, 'and only one');

  for (let i = 0; i < 6; i++) failOnce(th, 'w', `10.2.0.${i}`);
  now += 6000;
  th.sweep();
  t.match(reports.at(-1), { kind: 'alert_ended', username: 'w', failures: 6 }, 'the alert window ends with its count');

  for (let i = 0; i < 5; i++) failOnce(th, 'x', '10.0.0.3');
  th.begin('x', '10.0.0.3');
  th.stop();
  t.match(reports.at(-1), { kind: 'refused', username: 'x', attempts: 1 }, 'stop reports a lock still under way');
});

t.test('the throttle keeps a bounded number of keys', async (t) => {
  const th = new LoginThrottle({ ...OPTIONS, freeFailures: 0, maxKeys: 10 });
  for (let i = 0; i < 1000; i++) failOnce(th, `user${i}`, `10.0.${i >> 8}.${i & 255}`);
  t.ok(th.size <= 10);
});

t.test('repeated wrong passwords lock the pair, audited, and the right password from that address is refused meanwhile', async (t) => {
  const s = await startServer(t, {
    loginThrottle: { ...DEFAULT_THROTTLE, freeFailures: 1, baseDelayMs: 10, maxDelayMs: 20, lockoutFailures: 3, lockoutMs: 60_000, windowMs: 60_000 },
  });
  const { password } = await s.member('target');
  const attacker = await s.client();
  for (let i = 0; i < 3; i++) await t.rejects(attacker.login('target', 'wrong-guess'), { code: 'BAD_CREDENTIALS' });
  await t.rejects(attacker.login('target', password), { code: 'LOGIN_LOCKED', message: /try again in 1 minute/ });
  await s.server.stop(); // the count of refused attempts is written when the lock ends, or at stop
  const again = await startServer(t, {}, s.dataDir);
  const audit = await again.server.store.listAudit({ subject: 'target' }, { limit: 50 });
  const kinds = audit.map((a) => a.kind);
  t.equal(kinds.filter((k) => k === 'login_failed').length, 3, 'each failure audited');
  t.equal(kinds.filter((k) => k === 'login_lockout').length, 1, 'the lockout audited');
  t.match(audit.find((a) => a.kind === 'login_locked'), { detail: { attempts: 1, scope: 'pair' } }, 'the refused attempt counted');
});

t.test('a peer that never finishes a frame is cut off (slowloris)', async (t) => {
  const s = await startServer(t, { frameTimeoutMs: 200 });
  const peer = await RawPeer.connect(t, s.port);
  peer.write('1|PI');
  await peer.waitClosed();
  t.match(peer.lines.at(-1), /^-\|ERR\|TIMEOUT\|A frame was not completed in time\.$/);
});

t.test('too many connections that have not logged in from one address are refused', async (t) => {
  const s = await startServer(t, { maxAnonymousPerAddress: 3 });
  const peers = [];
  for (let i = 0; i < 3; i++) peers.push(await RawPeer.connect(t, s.port));
  const { createConnection } = await import('node:net');
  const extra = createConnection(s.port, '127.0.0.1');
  const text = await new Promise<string>((resolve) => {
    let buf = '';
    extra.setEncoding('utf8');
    extra.on('data', (d: string) => { buf += d; });
    extra.on('close', () => resolve(buf));
  });
  t.match(text, /^-\|ERR\|TOO_MANY_REQUESTS\|/);
  for (const p of peers) p.socket.destroy();
  while (s.server.router.anonymousFrom('127.0.0.1') > 0) await new Promise((r) => setTimeout(r, 10));
  await s.member('slot');
  const c = await s.memberClient('slot');
  t.ok(c.token, 'a member still gets in once a slot is free');
});

t.test('stopping the server lets a command in flight finish and answer, then tells every client', async (t) => {
  const s = await startServer(t);
  const { password } = await s.member('sd1');
  const idle = await s.memberClient('sd1');
  const idleClosed = new Promise<Error | null>((r) => idle.once('close', r));
  const c = await s.client();
  // LOGIN spends tens of milliseconds in scrypt: stop while it runs.
  const login = c.login('sd1', password);
  while (!s.server.router.connections().some((conn) => conn.isBusy)) await new Promise((r) => setImmediate(r));
  const stopping = s.server.stop();
  t.equal((await login).username, 'sd1', 'the command in flight completed and was answered');
  t.match(await idleClosed, { code: 'SHUTTING_DOWN' }, 'idle clients are told why');
  await stopping;
  const again = await startServer(t, {}, s.dataDir);
  const back = await again.client();
  t.equal((await back.login('sd1', ownPassword('sd1'))).username, 'sd1', 'the data is intact after the restart');
});

t.test('stopping the server lets an upload under way finish and commit; a listener nobody came to is closed', async (t) => {
  const s = await startServer(t, { shutdownDeadlineMs: 60_000 });
  await s.member('bb');
  const sender = await s.memberClient('aa');
  const big = noise(3 * 1024 * 1024, 7);
  const small = noise(1000, 8);
  const sent = await sendDeclared(sender, 'bb', [{ name: 'laporan.bin', data: big }, { name: 'nanti.bin', data: small }]);
  const moving = await offer(sender, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  const waiting = await offer(sender, 'UPLOAD', { message: sent.id, attachment: sent.attachments[1]!.id });
  const peer = await DataPeer.connect(t, moving);
  peer.write(`${moving.ticket}\n`);
  peer.write(big.subarray(0, 1024 * 1024));
  while (!s.server.transfers!.list().some((x) => x.phase === 'streaming' && x.bytes > 0)) await new Promise((r) => setTimeout(r, 10));

  const stopping = s.server.stop();
  await new Promise((r) => setTimeout(r, 200));
  peer.end(big.subarray(1024 * 1024));
  const [verdict] = await peer.frames();
  t.match(verdict, { kind: 'ok' }, 'the upload under way finished and was answered on its data socket');
  await stopping;
  t.equal(s.server.transfers!.liveListeners(), 0, 'no listener outlives the server');
  const late = await DataPeer.connect(t, waiting).catch((err: Error) => err);
  t.ok(late instanceof Error, 'the listener nobody had come to is closed');

  // After a restart the finished upload is there; the other one can still be uploaded.
  const again = await startServer(t, {}, s.dataDir);
  const c = await again.client();
  await c.login('aa', ownPassword('aa'));
  const rest = await rawUpload(t, c, sent.id, sent.attachments[1]!.id, small);
  t.match(rest.verdict, { kind: 'ok' }, 'the attachment that was waiting uploads after the restart');
  const rcpt = await again.client();
  await rcpt.login('bb', ownPassword('bb'));
  const got = await offer(rcpt, 'DOWNLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  const down = await DataPeer.connect(t, got);
  down.write(`${got.ticket}\n`);
  await down.closed;
  t.equal(sha256(down.received), sha256(big), 'the recipient downloads the bytes that were uploaded during the shutdown');
});

t.test('one address may keep only a few registration requests pending; a decision frees a slot', async (t) => {
  const s = await startServer(t, { maxPendingRegistrationsPerAddress: 3 });
  const admin = await s.adminClient();
  const c = await s.client();
  const ask = (n: number) => c.request('REGISTER', { institution: `Kampus ${n}`, contact: 'Humas', email: `humas${n}@kampus.ac.id`, username: `kampus${n}` });
  const ids: string[] = [];
  for (const n of [1, 2, 3]) ids.push((await ask(n)).args.get('id')!);
  await t.rejects(ask(4), { code: 'TOO_MANY_REQUESTS', message: /3 registration requests from this address are already waiting/ }, 'the fourth pending request is refused');
  t.equal((await admin.request('PENDING')).items.length, 3, 'and not recorded');
  await admin.request('REJECT', { id: ids[0]!, reason: 'duplikat' });
  t.ok((await ask(4)).args.get('id'), 'once one is decided, the address may ask again');
  t.match(await c.request('PING').then((r) => r.args.get('pong')), '1', 'the connection is still served');
});

/** A REGISTER from another loopback address (127.0.0.N), as a script with many addresses would send it; the reply line. */
async function registerFrom(port: number, localAddress: string, n: number): Promise<string> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  await once(socket, 'connect');
  socket.setEncoding('utf8');
  socket.write(`1|REGISTER||institution=Skrip ${n}|contact=Bot|email=bot${n}@skrip.ac.id|username=skrip${n}\n`);
  let buffer = '';
  for await (const chunk of socket) {
    buffer += chunk as string;
    const line = buffer.split('\n').find((l) => l.startsWith('1|'));
    if (line !== undefined) {
      socket.destroy();
      return line;
    }
  }
  return buffer;
}

t.test('registrations waiting from everyone are capped too: a script with many addresses cannot fill the queue', async (t) => {
  const s = await startServer(t, { maxPendingRegistrations: 4 });
  const admin = await s.adminClient();
  const replies: string[] = [];
  for (let n = 1; n <= 6; n++) replies.push(await registerFrom(s.port, `127.0.0.${n + 1}`, n));
  t.equal(replies.filter((r) => r.startsWith('1|OK|')).length, 4, 'four requests from four addresses are recorded');
  t.match(replies[4], /^1\|ERR\|TOO_MANY_REQUESTS\|4 registration requests are already waiting for a decision, the most this server keeps\. Wait until the administrator has decided\.$/,
    'the fifth, from a fifth address, is refused with a sentence saying why');
  t.match(replies[5], /^1\|ERR\|TOO_MANY_REQUESTS\|/, 'and so is the sixth');
  const pending = (await admin.request('PENDING')).items;
  t.equal(pending.length, 4, 'only four are pending');
  await admin.request('REJECT', { id: pending[0]!.get('id')!, reason: 'skrip' });
  t.match(await registerFrom(s.port, '127.0.0.9', 9), /^1\|OK\|/, 'a decision frees a place');
});

// --- peers that do not read (issue 20 §1) ----------------------------------------------------------

/** A peer from `localAddress` that asks for HELP thousands of times and never reads a reply. */
async function nonReader(t: Test, port: number, localAddress: string): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  socket.pause();
  socket.on('error', () => undefined);
  t.teardown(() => socket.destroy());
  await once(socket, 'connect');
  socket.write(Array.from({ length: 2000 }, (_, i) => `n${i}|HELP`).join('\n') + '\n');
  return socket;
}

/** The server's side of a client socket, while the server holds it. */
function serverSide(s: TestServer, client: net.Socket): Connection | undefined {
  return s.server.router.connections().find((c) => c.socket.remotePort === client.localPort && c.remoteAddress === client.localAddress);
}

/** Lines a reading peer from `localAddress` receives in answer to one HELP. */
async function readHelp(t: Test, port: number, localAddress: string): Promise<string[]> {
  const socket = net.connect({ host: '127.0.0.1', port, localAddress });
  t.teardown(() => socket.destroy());
  let text = '';
  socket.setEncoding('utf8').on('data', (d: string) => { text += d; });
  socket.write('h|HELP\n');
  await waitFor(() => /^h\|(OK|ERR)\b/m.test(text), 10_000);
  return text.split('\n');
}

t.test('past the output an address may hold, its longest backed-up peer is dropped; a reader from there is not', async (t) => {
  const s = await startServer(t, { maxOutputBytesPerAddress: 200 * 1024 });
  const held = (address: string) => s.server.output.bytes(address);
  // Each backs up at about 64 KiB (outputPauseBytes): two fit, the third pushes the address over.
  const first = await nonReader(t, s.port, '127.0.0.61');
  await waitFor(() => held('127.0.0.61') >= 64 * 1024, 20_000);
  await nonReader(t, s.port, '127.0.0.61');
  await waitFor(() => held('127.0.0.61') >= 128 * 1024, 20_000);
  const elsewhere = await nonReader(t, s.port, '127.0.0.62');
  await waitFor(() => held('127.0.0.62') >= 64 * 1024, 20_000);
  await nonReader(t, s.port, '127.0.0.61');
  await waitFor(() => s.logs.records.some((r) => r.msg === 'peer too slow while its address holds too much unsent output; disconnecting'), 20_000);
  t.ok(held('127.0.0.61') <= 200 * 1024, `the address holds ${held('127.0.0.61')} bytes, within its bound`);
  t.notOk(serverSide(s, first), 'the first (longest backed up) is the one dropped');
  const lines = await readHelp(t, s.port, '127.0.0.61');
  t.match(lines.find((l) => l.startsWith('h|OK')), /^h\|OK/, 'a peer that reads, from the same address, is served');
  t.ok(held('127.0.0.62') >= 64 * 1024 && serverSide(s, elsewhere), 'another address is not touched');
});

t.test('past the output the whole server may hold, the longest backed-up peer anywhere is dropped', async (t) => {
  const s = await startServer(t, { maxOutputBytesTotal: 200 * 1024 });
  await nonReader(t, s.port, '127.0.0.71');
  await waitFor(() => s.server.output.bytes() >= 64 * 1024, 20_000);
  await nonReader(t, s.port, '127.0.0.72');
  await waitFor(() => s.server.output.bytes() >= 128 * 1024, 20_000);
  await nonReader(t, s.port, '127.0.0.73');
  await waitFor(() => s.logs.records.some((r) => r.msg === 'peer too slow while the server holds too much unsent output; disconnecting'), 20_000);
  t.ok(s.server.output.bytes() <= 200 * 1024, `the server holds ${s.server.output.bytes()} bytes, within its bound`);
  t.equal(s.server.output.bytes('127.0.0.71'), 0, 'the first address (backed up the longest) lost its peer');
  t.ok(s.server.output.bytes('127.0.0.73') > 0, 'the newest is kept');
});

t.test('a connection on a slot kept for the administrator that does not log in is closed in time', async (t) => {
  const s = await startServer(t, { maxConnections: 4, adminReservedConnections: 2, reservedSlotLoginTimeoutMs: 1500 });
  await RawPeer.connect(t, s.port);
  await RawPeer.connect(t, s.port);
  const idle = await RawPeer.connect(t, s.port); // the third of four: a reserved slot
  await Promise.race([idle.waitClosed(), new Promise((r) => setTimeout(r, 10_000))]);
  t.ok(idle.closed, 'closed');
  t.match(idle.lines.at(-1), /^-\|ERR\|TOO_MANY_REQUESTS\|The server is full; its last connections are kept for the administrator\./, 'told why, then closed');
  const admin = await s.adminClient();
  t.match((await admin.request('WHOAMI')).args.get('role'), 'admin', 'the slot it held is free for the administrator');
});

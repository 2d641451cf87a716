/**
 * Clients reach a cluster (issue 19): a server list, failing over to the next address on refusal
 * or loss, resuming the session by its token (no password) on the node it lands on, and popups sent
 * during the gap received exactly once — by SiarSession (tui, console) and by `siar listen`.
 * "Two nodes" are one data directory served first on one port, then on another (the SQLite store
 * is one process's), which is what a client sees of a cluster node dying; and, where PostgreSQL is
 * at hand, two live nodes on one PostgreSQL store.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import { SiarClient, connectFirst, formatAddress, parseServerList, serverOrder, type ConnectOptions } from '../../src/client/connection.js';
import { SiarSession, type SessionState } from '../../src/client/session.js';
import { freshPostgresDatabase, postgresMissing } from '../contract/store/adapters.js';
import { requireCapability } from '../helpers/capability.js';
import { SIAR, siar } from '../helpers/cli.js';
import { freePort, startServer, tempDir, until } from '../helpers/siar.js';

/** A TCP front that refuses (is not listening) until opened, then forwards to `target`. */
function gate(port: number, target: () => number) {
  const sockets = new Set<net.Socket>();
  const srv = net.createServer((c) => {
    const up = net.connect(target(), '127.0.0.1');
    for (const s of [c, up]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => undefined); }
    c.pipe(up).pipe(c);
  });
  return {
    open: () => new Promise<void>((resolve) => srv.listen(port, '127.0.0.1', resolve)),
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); srv.close(() => resolve()); }),
  };
}

/** Starts `session`, logs in, and records its states, logins and popup ids from the start. */
async function loggedIn(t: Test, session: SiarSession, username: string, password: string) {
  t.teardown(() => session.close());
  const states: SessionState[] = [];
  session.on('state', (st) => states.push(st));
  const logins: Array<{ resumed: boolean; byToken?: boolean }> = [];
  session.on('login', (_i, how) => logins.push(how));
  const popups: number[] = [];
  session.on('popup', (p) => popups.push(p.id));
  session.start();
  await session.waitFor((st) => st.status === 'connected');
  await session.login(username, password);
  return { states, logins, popups };
}

t.test('server lists: parsed, bounded, shuffled per client', async (t) => {
  t.same(parseServerList('a:1, b:2,,a:1,[::1]:3,c'), [{ host: 'a', port: 1 }, { host: 'b', port: 2 }, { host: '::1', port: 3 }, { host: 'c', port: 7400 }],
    'entries trimmed, empty ones skipped, repeats dropped, default port');
  t.same(parseServerList(undefined), [{ host: '127.0.0.1', port: 7400 }], 'the default');
  t.same(parseServerList('h:9'), [{ host: 'h', port: 9 }], 'one address as before');
  t.throws(() => parseServerList('a:1,b:99999'), /invalid port/);
  t.throws(() => parseServerList(Array.from({ length: 33 }, (_, i) => `h${i}:1`).join(',')), /at most 32/);
  const list = parseServerList('a:1,b:2,c:3');
  t.same(serverOrder(list, () => 0.999).map(formatAddress), ['a:1', 'b:2', 'c:3'], 'a random order (here: as listed)');
  t.same(serverOrder(list, () => 0).map(formatAddress), ['b:2', 'c:3', 'a:1'], 'another');
  const firsts = new Set(Array.from({ length: 200 }, () => formatAddress(serverOrder(list)[0]!)));
  t.equal(firsts.size, 3, 'clients start on every node');
  t.same(list.map(formatAddress), ['a:1', 'b:2', 'c:3'], 'the list itself is not changed');
});

t.test('a refused address is followed by the next; none answering is one sentence naming them all', async (t) => {
  const s = await startServer(t);
  const dead = await freePort();
  const said: string[] = [];
  const c = await connectFirst(parseServerList(`127.0.0.1:${dead},127.0.0.1:${s.port}`), { connectTimeoutMs: 5000 }, (failed, reason, next) => said.push(`${failed}|${reason}|${next}`));
  t.teardown(() => c.close());
  t.equal((await c.ping()), undefined, 'connected to the live one');
  t.match(said, [new RegExp(`^127.0.0.1:${dead}\\|Could not reach the siar server at 127.0.0.1:${dead}: .*ECONNREFUSED.*\\|127.0.0.1:${s.port}$`)]);
  const dead2 = await freePort();
  await t.rejects(connectFirst(parseServerList(`127.0.0.1:${dead},127.0.0.1:${dead2}`), {}),
    { message: new RegExp(`Could not reach any of the 2 siar servers \\(127.0.0.1:${dead}, 127.0.0.1:${dead2}\\); the last said: .*ECONNREFUSED`) });

  // The CLI: a one-shot command lands on the live server and says where it failed first.
  const member = await s.member('ani');
  const r = await siar(['inbox', '--user', 'ani'], { SIAR_SERVER: `127.0.0.1:${dead},127.0.0.1:${dead},127.0.0.1:${s.port}`, SIAR_PASSWORD: member.password });
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /inbox is empty/);
  const down = await siar(['inbox', '--user', 'ani', '--server', `127.0.0.1:${dead},127.0.0.1:${dead2}`], { SIAR_PASSWORD: member.password });
  t.equal(down.code, 2);
  t.match(down.stderr, /Could not reach any of the 2 siar servers/);
});

t.test('SiarSession fails over to the next address, resumes by token, and gets the gap\'s popup once', async (t) => {
  const dataDir = tempDir(t);
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await startServer(t, { port: portA }, dataDir);
  const alice = await a.member('alice');
  const bobCreds = await a.member('bob');

  let hold: Promise<void> = Promise.resolve();
  const session = new SiarSession({
    address: `127.0.0.1:${portA},127.0.0.1:${portB}`,
    random: () => 0.999, // A first
    backoff: { initialMs: 50, maxMs: 200, jitter: 0 },
    connect: async (o: ConnectOptions) => { await hold; return SiarClient.connect(o); },
  });
  const { states, logins, popups } = await loggedIn(t, session, 'alice', alice.password);
  t.equal(session.address, `127.0.0.1:${portA}`);
  const bobA = await a.memberClient('bob');
  const before = await bobA.send({ to: ['alice'], subject: 'before' });
  await until('the first popup', () => popups.includes(before.id), 20_000);

  // Node A dies; the same data is served as node B; a popup is sent there while alice is away.
  let release!: () => void;
  hold = new Promise<void>((resolve) => { release = resolve; });
  await a.server.stop();
  await until('the loss', () => states.some((st) => st.status === 'offline'), 20_000);
  const b = await startServer(t, { port: portB }, dataDir);
  const bob = await SiarClient.connect({ host: '127.0.0.1', port: portB });
  t.teardown(() => bob.close());
  await bob.login('bob', bobCreds.password);
  const during = await bob.send({ to: ['alice'], subject: 'during the gap' });
  release();

  await session.waitFor((st) => st.status === 'online' && st.address === `127.0.0.1:${portB}`, 20_000);
  t.match(states.find((st) => st.status === 'offline')?.error ?? '', new RegExp(`^127.0.0.1:${portA}: The server is shutting down. \\(SHUTTING_DOWN\\); trying 127.0.0.1:${portB}$`), 'the status says what happened and where it goes');
  t.same(logins, [{ resumed: false }, { resumed: true, byToken: true }], 'resumed by token, no password');
  await until('the gap\'s popup', () => popups.includes(during.id), 20_000);
  const after = await bob.send({ to: ['alice'], subject: 'after' });
  await until('a live popup on B', () => popups.includes(after.id), 20_000);
  t.same(popups, [before.id, during.id, after.id], 'each popup exactly once');
  t.equal((await session.whoami()).username, 'alice');
  const admin = await b.adminClient();
  t.equal((await admin.admin.audit({ kind: 'login_failed' })).length, 0, 'no password was tried');
});

t.test('siar listen across a node failure: fails over, resumes, prints the gap\'s popup exactly once', async (t) => {
  const dataDir = tempDir(t);
  const [portA, portB, portFront] = [await freePort(), await freePort(), await freePort()];
  const a = await startServer(t, { port: portA }, dataDir);
  const ugm = await a.member('ugm');
  const unhas = await a.member('unhas');
  // Node B is reached through a front the test opens only after the gap's popup was sent.
  const front = gate(portFront, () => portB);
  t.teardown(() => front.close());

  const listener = spawn(process.execPath, [SIAR, 'listen', '--json', '--user', 'ugm', '--server', `127.0.0.1:${portA},127.0.0.1:${portFront}`],
    { env: { ...process.env, SIAR_PASSWORD: ugm.password }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { listener.kill(); });
  const lines: string[] = [];
  createInterface({ input: listener.stdout! }).on('line', (l) => lines.push(l));
  let stderr = '';
  listener.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  await until('listening', () => /listening as ugm\n/.test(stderr), 30_000);

  const sender = await a.memberClient('unhas');
  const first = await sender.send({ to: ['ugm'], subject: 'on A' });
  await until('the popup on A', () => lines.length >= 1, 20_000);

  await a.server.stop();
  await until('the loss is said', () => /connection lost: /.test(stderr), 20_000);
  await startServer(t, { port: portB }, dataDir);
  const bob = await SiarClient.connect({ host: '127.0.0.1', port: portB });
  t.teardown(() => bob.close());
  await bob.login('unhas', unhas.password);
  const during = await bob.send({ to: ['ugm'], subject: 'during the gap' });
  await front.open();
  await until('resumed', () => /listening as ugm again, on 127\.0\.0\.1:\d+ \(session resumed\)/.test(stderr), 60_000);
  await until('the gap\'s popup', () => lines.length >= 2, 20_000);
  const last = await bob.send({ to: ['ugm'], subject: 'after' });
  await until('the last popup', () => lines.length >= 3, 20_000);
  await new Promise((r) => setTimeout(r, 300));
  t.same(lines.map((l) => JSON.parse(l).id), [first.id, during.id, last.id], 'each popup printed exactly once');
  t.match(stderr, new RegExp(`trying 127\\.0\\.0\\.1:${portFront}`), 'stderr says where it fails over to');
});

t.test('two live nodes on one PostgreSQL store: a client of the stopped node resumes on the other and gets what it missed, once', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  const store = await freshPostgresDatabase(t, { empty: true });
  const dataDir = tempDir(t);
  const a = await startServer(t, { store }, dataDir);
  const b = await startServer(t, { store }, dataDir);
  const alice = await a.member('alice');
  const bob = await b.memberClient('bob');
  const session = new SiarSession({ address: `127.0.0.1:${a.port},127.0.0.1:${b.port}`, random: () => 0.999, backoff: { initialMs: 50, maxMs: 200, jitter: 0 } });
  const { logins, popups } = await loggedIn(t, session, 'alice', alice.password);
  t.equal(session.address, `127.0.0.1:${a.port}`);
  // Sent on B while alice is on A: stored (this branch has no bus between nodes yet), delivered on her next login or resume.
  const sent = await bob.send({ to: ['alice'], subject: 'from node B' });
  await a.server.stop();
  await session.waitFor((st) => st.status === 'online' && st.address === `127.0.0.1:${b.port}`, 20_000);
  t.same(logins, [{ resumed: false }, { resumed: true, byToken: true }], 'resumed on node B by token');
  await until('the popup', () => popups.includes(sent.id), 20_000);
  const live = await bob.send({ to: ['alice'], subject: 'live on B' });
  await until('the live popup', () => popups.includes(live.id), 20_000);
  t.same(popups, [sent.id, live.id], 'each once');
});

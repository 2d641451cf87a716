/** The README's flow, as a new user runs it: the real `siar` executable against a real `siar server`. */
import { execFile, spawn } from 'node:child_process';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { once } from 'node:events';
import net from 'node:net';
import { RawPeer, parseEml, passwordFromText, tempDir } from '../helpers/siar.js';
import { SIAR, setOwnPassword, siar, startSiarServer, waitForMailedPassword } from '../helpers/cli.js';


t.test('two institutions register, get approved, log in with mailed passwords and exchange popups', async (t) => {
  const data = tempDir(t);
  const server = (await startSiarServer(t, data)).address;
  const env = { SIAR_SERVER: server };

  const r1 = await siar(['register', '--institution', 'Universitas Hasanuddin', '--contact', 'Budi', '--email', 'budi@unhas.ac.id', '--username', 'unhas'], env);
  t.equal(r1.code, 0, r1.stderr);
  t.match(r1.stdout, /^\d+\n$/, 'prints the request id');
  const r2 = await siar(['register', '--institution', 'Universitas Gadjah Mada', '--contact', 'Sari', '--email', 'sari@ugm.ac.id', '--username', 'ugm', '--json'], env);
  t.same(JSON.parse(r2.stdout), { id: 2, status: 'pending' });

  const pending = await siar(['admin', 'pending', '--json', '--data', data], env);
  t.equal(pending.code, 0, pending.stderr);
  const rows = pending.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.same(rows.map((r: { username: string }) => r.username), ['unhas', 'ugm']);
  t.match(rows[0], { id: 1, institution: 'Universitas Hasanuddin', email: 'budi@unhas.ac.id', username: 'unhas' });

  const approve = await siar(['admin', 'approve', '1', '2', '--data', data], env);
  t.equal(approve.code, 0, approve.stderr);
  t.match(approve.stdout, /approved 1: member unhas/);

  // The mailed password opens one session, good only for setting one's own.
  const mailed = { ...env, SIAR_USER: 'unhas', SIAR_PASSWORD: await waitForMailedPassword(data, 'unhas') };
  const early = await siar(['inbox'], mailed);
  t.not(early.code, 0, 'the mailed password reads nothing');
  t.match(early.stderr, /siar passwd.*PASSWORD_CHANGE_REQUIRED/);
  const changed = await siar(['passwd'], { ...mailed, SIAR_NEW_PASSWORD: 'Hasanuddin-own-2026' });
  t.equal(changed.code, 0, changed.stderr);
  const unhas = { ...env, SIAR_USER: 'unhas', SIAR_PASSWORD: 'Hasanuddin-own-2026' };
  t.not((await siar(['inbox'], mailed)).code, 0, 'the mailed password does not work a second time');
  const pwFile = path.join(data, 'ugm.pw');
  writeFileSync(pwFile, (await setOwnPassword(server, data, 'ugm')) + '\n', { mode: 0o600 });
  const ugmArgs = ['--user', 'ugm', '--password-file', pwFile];

  // ugm listens; unhas sends; the popup shows up on ugm's listener.
  const listener = spawn(process.execPath, [SIAR, 'listen', '--json', ...ugmArgs], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { listener.kill(); });
  const popups = createInterface({ input: listener.stdout! })[Symbol.asyncIterator]();
  await new Promise<void>((resolve) => listener.stderr!.once('data', () => resolve())); // "listening as ugm"

  const sent = await siar(['send', '--to', 'ugm', '--subject', 'Seminar nasional', '--body-file=-'], unhas, 'Baris satu\nBaris | dua\n');
  t.equal(sent.code, 0, sent.stderr);
  const id = Number(sent.stdout.trim());
  const popup = JSON.parse((await popups.next()).value as string);
  t.match(popup, { id, from: 'unhas', institution: 'Universitas Hasanuddin', subject: 'Seminar nasional', preview: 'Baris satu\nBaris | dua\n' });

  const inbox = await siar(['inbox', '--json', ...ugmArgs], env);
  const msg = JSON.parse(inbox.stdout.trim().split('\n')[0]!);
  t.match(msg, { id, from: 'unhas', to: ['ugm'], subject: 'Seminar nasional', body: 'Baris satu\nBaris | dua\n', attachments: [] });
  t.match(msg.sentAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/, 'ISO 8601');

  const read = await siar(['read', String(id), ...ugmArgs], env);
  t.match(read.stdout, /Subject: Seminar nasional/);
  const outbox = await siar(['outbox', '--json'], unhas);
  t.match(JSON.parse(outbox.stdout.trim()), { id, recipients: [{ username: 'ugm' }] });
  t.ok(JSON.parse(outbox.stdout.trim()).recipients[0].readAt, 'the sender sees it was read');

  const reply = await siar(['send', '--all', '--subject', 'Terima kasih', '--body', 'ok', ...ugmArgs], env);
  t.equal(reply.code, 0);
  const dir = await siar(['directory', '--json'], unhas);
  t.same(dir.stdout.trim().split('\n').map((l) => JSON.parse(l).username), ['ugm', 'unhas']);

  // ugm sets a new password from another session: the listener's session is closed; it stops and says why.
  let listenerErr = '';
  listener.stderr!.on('data', (d: Buffer) => { listenerErr += d.toString(); });
  const exited = once(listener, 'exit');
  const renewed = await siar(['passwd', ...ugmArgs], { ...env, SIAR_NEW_PASSWORD: 'Gadjah-Mada-new-2026' });
  t.equal(renewed.code, 0, renewed.stderr);
  const [exitCode] = await exited;
  t.not(exitCode, 0, 'siar listen stops');
  t.match(listenerErr, /password was changed from another session.*SESSION_CLOSED/, 'and says why');
});

t.test('failures exit non-zero with a one-line reason on stderr', async (t) => {
  const data = tempDir(t);
  const server = (await startSiarServer(t, data)).address;
  const env = { SIAR_SERVER: server };

  const unreachable = await siar(['inbox', '--user', 'x'], { SIAR_SERVER: '127.0.0.1:1', SIAR_PASSWORD: 'x' });
  t.not(unreachable.code, 0);
  t.match(unreachable.stderr, /^siar: Could not reach the siar server at 127\.0\.0\.1:1[^\n]*\n$/);

  const badLogin = await siar(['inbox', '--user', 'nobody'], { ...env, SIAR_PASSWORD: 'wrong' });
  t.not(badLogin.code, 0);
  t.equal(badLogin.stderr, 'siar: Wrong username or password. (BAD_CREDENTIALS)\n');

  const noPassword = await siar(['inbox', '--user', 'nobody'], { ...env, SIAR_PASSWORD: '' });
  t.not(noPassword.code, 0);
  t.match(noPassword.stderr, /SIAR_PASSWORD/);

  await siar(['register', '--institution', 'A', '--contact', 'B', '--email', 'a@b.ac.id', '--username', 'dup'], env);
  const dup = await siar(['register', '--institution', 'A', '--contact', 'B', '--email', 'c@b.ac.id', '--username', 'dup'], env);
  t.not(dup.code, 0);
  t.match(dup.stderr, /DUPLICATE_USERNAME/);

  const admin = { ...env, SIAR_USER: 'admin', SIAR_PASSWORD: readFileSync(path.join(data, 'admin-password'), 'utf8').trim() };
  const unknown = await siar(['send', '--to', 'ghost', '--subject', 'x'], admin);
  t.not(unknown.code, 0);
  t.match(unknown.stderr, /UNKNOWN_RECIPIENT/);

  const usage = await siar(['send', '--subject', 'x'], admin);
  t.not(usage.code, 0);
  t.match(usage.stderr, /exactly one of --to or --all/);
});

t.test('register --wait prints the decision when the admin rejects', async (t) => {
  const data = tempDir(t);
  const server = (await startSiarServer(t, data)).address;
  const env = { SIAR_SERVER: server };
  const waiting = siar(['register', '--institution', 'A', '--contact', 'B', '--email', 'w@b.ac.id', '--username', 'waiter', '--wait'], env);
  // The request shows up for the admin; reject it.
  let id = '';
  for (let i = 0; i < 100 && !id; i++) {
    const p = await siar(['admin', 'pending', '--json', '--data', data], env);
    id = p.stdout ? String(JSON.parse(p.stdout.trim().split('\n')[0]!).id) : '';
    if (!id) await new Promise((r) => setTimeout(r, 100));
  }
  await siar(['admin', 'reject', id, '--reason', 'Unknown institution', '--data', data], env);
  const r = await waiting;
  t.not(r.code, 0);
  t.match(r.stderr, /rejected: Unknown institution/);
});

t.test('siar server exits 0 on SIGTERM after telling its clients', async (t) => {
  const data = tempDir(t);
  const child = spawn(process.execPath, [SIAR, 'server', '--port', '0', '--data', data], { stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  let port = 0;
  while (!port) {
    const rec = JSON.parse((await lines.next()).value as string) as { msg?: string; port?: number };
    if (rec.msg === 'siar server listening') port = rec.port!;
  }
  const { SiarClient } = await import('../../src/client/connection.js');
  const client = await SiarClient.connect({ host: '127.0.0.1', port });
  const closed = new Promise<Error | null>((r) => client.once('close', r));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  t.match(await closed, { code: 'SHUTTING_DOWN' });
  t.equal(await exited, 0);
});

t.test('siar server --max-connections: the extra client gets a clear error, the server goes on', async (t) => {
  const data = tempDir(t);
  const { port } = await startSiarServer(t, data, ['--max-connections', '2']);
  const first = await RawPeer.connect(t, port);
  await RawPeer.connect(t, port);
  const extra = net.connect(port, '127.0.0.1');
  t.teardown(() => extra.destroy());
  let said = '';
  extra.setEncoding('utf8').on('data', (d: string) => { said += d; });
  await once(extra, 'close');
  t.match(said, /^-\|ERR\|TOO_MANY_REQUESTS\|The server is full/, 'told why, not just cut off');
  t.match(await first.ask('1|PING|'), /^1\|OK\|pong=1/, 'the clients already in are still served');
});

/**
 * The real `node bin/siar.js admin console` in a pseudo-terminal against a real `siar server`:
 * a registration arrives live, is approved from the console, and the credentials mail lands in
 * <data>/mail/. The screen is read through a headless xterm; every step waits for screen content
 * with a deadline, never for a fixed time.
 */
import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import xterm from '@xterm/headless';
import * as pty from 'node-pty';
import t, { type Test } from 'tap';
import { SiarClient } from '../../src/client/connection.js';
import { freePort, parseEml, passwordFromText, startServer, tempDir } from '../helpers/siar.js';
import { SIAR, siar, startSiarServer } from '../helpers/cli.js';
import { makePki } from '../helpers/tls.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STEP_MS = 20_000;
const COLS = 150;
const ROWS = 45;

/** A program in a pseudo-terminal, its screen kept by a headless xterm. */
class Tty {
  readonly term = new xterm.Terminal({ cols: COLS, rows: ROWS, allowProposedApi: true });
  private readonly proc: pty.IPty;
  private waiters: Array<() => void> = [];
  exit: { exitCode: number; signal?: number } | null = null;

  constructor(args: string[], env: Record<string, string>) {
    this.proc = pty.spawn(process.execPath, args, {
      name: 'xterm-256color', cols: COLS, rows: ROWS, cwd: ROOT,
      env: { ...process.env, ...env, TERM: 'xterm-256color' } as Record<string, string>,
    });
    this.proc.onData((d) => this.term.write(d, () => this.wake()));
    this.proc.onExit((e) => {
      this.exit = e;
      this.wake();
    });
  }

  text(): string {
    const buffer = this.term.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buffer.length; i++) lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
    return lines.join('\n');
  }

  /** Resolves when the screen matches; fails with the screen after `ms`. */
  async waitFor(pattern: RegExp, what: string, ms = STEP_MS): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const screen = this.text();
      if (pattern.test(screen)) return screen;
      if (this.exit) throw new Error(`the console exited (${JSON.stringify(this.exit)}) while waiting for ${what}:\n${screen}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} on the screen within ${ms} ms:\n${screen}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
  }

  async waitExit(ms = STEP_MS): Promise<{ exitCode: number }> {
    const deadline = Date.now() + ms;
    while (!this.exit) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error('the console did not exit');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(timer); resolve(); });
      });
    }
    return this.exit;
  }

  type(keys: string): void {
    this.proc.write(keys);
  }

  kill(): void {
    if (!this.exit) this.proc.kill();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

async function waitForMailFile(dir: string, pattern: RegExp, what: string): Promise<string> {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    let files: string[] = [];
    try {
      files = readdirSync(dir);
    } catch {
      // not created yet
    }
    for (const f of files.filter((f) => f.endsWith('.eml'))) {
      const text = readFileSync(path.join(dir, f), 'utf8');
      if (pattern.test(text)) return text;
    }
    if (Date.now() > deadline) throw new Error(`no ${what} in ${dir}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// A dozen steps of up to 20 s each, plus real executables booting: more than tap's default per file.
t.setTimeout(300_000);

t.test('the admin console approves a registration that arrives live, and the credentials mail goes out', async (t) => {
  const data = tempDir(t);
  const server = (await startSiarServer(t, data)).address;
  const env = { SIAR_SERVER: server };
  const tty = new Tty([SIAR, 'admin', 'console', '--server', server, '--data', data], {});
  t.teardown(() => tty.kill());

  await tty.waitFor(/logged in as admin/, 'the logged-in console');
  await tty.waitFor(/1 Registrations .*2 Members .*7 Backups/, 'the screen tabs');
  await tty.waitFor(/no pending requests/, 'an empty request table');
  t.pass('the console is up with an empty registration table');

  // A registration arrives while the console is open: it pops up and enters the table.
  const reg = await siar(['register', '--institution', 'Universitas Hasanuddin', '--contact', 'Budi', '--email', 'budi@unhas.ac.id', '--phone', '+62 411 586200', '--username', 'unhas'], env);
  t.equal(reg.code, 0, reg.stderr);
  await tty.waitFor(/New registration #1: unhas/, 'the live notice');
  const table = await tty.waitFor(/\b1\s+unhas\s+Universitas Hasanuddin\s+Budi\s+budi@unhas\.ac\.id\s+127\.0\.0\.1\s+pending/, 'the new row');
  t.match(table, /Registrations \(1\)/, 'the tab counts it');

  // Open it: every field and the address it came from.
  tty.type('\r');
  const details = await tty.waitFor(/request came from\s+127\.0\.0\.1/, 'the request details');
  t.match(details, /phone\s+\+62 411 586200/);
  tty.type('\x1b');
  await tty.waitFor(/^(?![\s\S]*request came from)/, 'the details closed');

  // Approve it; the console shows that the credentials mail went out.
  tty.type('a');
  await tty.waitFor(/#1 unhas approved — credentials mail #\d+ to budi@unhas\.ac\.id: sent/, 'the approval with its mail sent');
  const eml = await waitForMailFile(path.join(data, 'mail'), /Username: unhas/, 'the credentials mail');
  const password = passwordFromText(parseEml(eml).text, 'unhas');
  t.match(password, /^[A-Za-z0-9]{20}$/, 'the credentials mail landed in <data>/mail/');
  const login = await siar(['passwd'], { ...env, SIAR_USER: 'unhas', SIAR_PASSWORD: password, SIAR_NEW_PASSWORD: 'Hasanuddin-own-2026' });
  t.equal(login.code, 0, 'the member logs in with it and sets its own');
  await tty.waitFor(/no pending requests/, 'the request leaves the table');

  // Several at once: two more arrive, both are marked and rejected with one reason.
  for (const [u, inst] of [['ugm', 'Universitas Gadjah Mada'], ['itb', 'Institut Teknologi Bandung']]) {
    const r = await siar(['register', '--institution', inst!, '--contact', 'Sari', '--email', `${u}@example.ac.id`, '--username', u!], env);
    t.equal(r.code, 0, r.stderr);
  }
  await tty.waitFor(/Registrations \(2\)/, 'two pending requests');
  await tty.waitFor(/\bitb\s+Institut Teknologi Bandung/, 'the second row');
  tty.type('*');
  await tty.waitFor(/\*\s+2\s+ugm[\s\S]*\*\s+3\s+itb/, 'both marked');
  tty.type('r');
  await tty.waitFor(/Reason for rejecting #2 ugm, #3 itb/, 'the reason prompt');
  tty.type('Bukan institusi pendidikan\r');
  await tty.waitFor(/#3 itb rejected — notice mail #\d+ to itb@example\.ac\.id: sent/, 'the second rejection');
  await tty.waitFor(/#2 ugm rejected — notice mail #\d+ to ugm@example\.ac\.id: sent/, 'the first rejection');
  await waitForMailFile(path.join(data, 'mail'), /Bukan institusi pendidikan/, 'the rejection mail');

  // Members: each one's storage against the quota and sending against the rate (issue 20), then suspend.
  const note = await siar(['send', '--to', 'unhas', '--subject', 'Catatan', '--body', 'untuk arsip'], { ...env, SIAR_USER: 'unhas', SIAR_PASSWORD: 'Hasanuddin-own-2026' });
  t.equal(note.code, 0, note.stderr);
  tty.type('2');
  await tty.waitFor(/Members \(1\)[\s\S]*unhas\s+active/, 'the member list');
  await tty.waitFor(/STORED \/ QUOTA\s+SENT\/MIN[\s\S]*unhas\s+active\s+\S*\s*18 B \/ 10 GiB\s+1 \/ 120/, 'the member\'s usage against the limits');
  tty.type('s');
  await tty.waitFor(/Suspend unhas\?/, 'the confirmation');
  tty.type('y');
  await tty.waitFor(/suspended unhas/, 'the suspension');
  await tty.waitFor(/unhas\s+suspended/, 'the member marked suspended');

  // Traffic and audit screens show live data.
  tty.type('4');
  await tty.waitFor(/messages per minute/, 'the traffic chart');
  await tty.waitFor(/loop late ms\s+[\d.]+\s+p99 [\d.]+, max [\d.]+/, "the event loop's lateness");
  tty.type('6');
  await tty.waitFor(/member_suspended\s+admin\s+unhas/, 'the audit log');

  // A backup with progress, then it is listed.
  tty.type('7');
  await tty.waitFor(/Past backups/, 'the backups screen');
  tty.type('b');
  await tty.waitFor(/siar-\S+ done: .*integrity ok/, 'the finished backup');
  await tty.waitFor(/siar-\S+\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\S+ KiB/, 'the backup in the list');

  tty.type('q');
  const exit = await tty.waitExit();
  t.equal(exit.exitCode, 0, 'q quits cleanly');
});

t.test('guesses at one username from several addresses show up in the console as a login alert', async (t) => {
  const data = tempDir(t);
  const { address: server, port } = await startSiarServer(t, data, ['--login-alert-failures', '4', '--login-lockout-failures', '3']);
  const tty = new Tty([SIAR, 'admin', 'console', '--server', server, '--data', data], {});
  t.teardown(() => tty.kill());
  await tty.waitFor(/logged in as admin/, 'the logged-in console');
  for (const localAddress of ['127.0.0.2', '127.0.0.3']) {
    const c = await SiarClient.connect({ host: '127.0.0.1', port, localAddress });
    for (let i = 0; i < 2; i++) await t.rejects(c.login('admin', `guess-${localAddress}-${i}`), { code: 'BAD_CREDENTIALS' });
    await c.close();
  }
  await tty.waitFor(/Login alert: 4 wrong passwords for admin from 2 addresses/, 'the alert notice');
  const screen = await tty.waitFor(/login alert: 4 wrong passwords for admin in 15 min from 127\.0\.0\.2, 127\.0\.0\.3/, 'the alert line');
  t.match(screen, /the account is not locked/, 'the console says the account stays open');
  tty.type('q');
  t.equal((await tty.waitExit()).exitCode, 0);
});

t.test('the console refuses a wrong password before taking the screen', async (t) => {
  const data = tempDir(t);
  const server = (await startSiarServer(t, data)).address;
  const tty = new Tty([SIAR, 'admin', 'console', '--server', server, '--data', data], { SIAR_PASSWORD: 'not the password' });
  t.teardown(() => tty.kill());
  await tty.waitFor(/siar: Wrong username or password\. \(BAD_CREDENTIALS\)/, 'the refusal');
  t.not((await tty.waitExit()).exitCode, 0);
});

t.test('the admin console reaches a TLS server with --ca, and refuses one it cannot verify', async (t) => {
  const pki = makePki(t);
  const data = tempDir(t);
  const server = (await startSiarServer(t, data, ['--tls-cert', pki.certFile, '--tls-key', pki.keyFile])).address;
  const trusted = new Tty([SIAR, 'admin', 'console', '--server', server, '--data', data, '--ca', pki.caFile], {});
  t.teardown(() => trusted.kill());
  await trusted.waitFor(/logged in as admin/, 'the logged-in console over TLS');
  await trusted.waitFor(/no pending requests/, 'the registration table, read over TLS');
  trusted.type('q');
  t.equal((await trusted.waitExit()).exitCode, 0, 'q quits');

  const untrusting = new Tty([SIAR, 'admin', 'console', '--server', server, '--data', data], {});
  t.teardown(() => untrusting.kill());
  const exit = await untrusting.waitExit(90_000);
  t.equal(exit.exitCode, 2, 'a plain console at a TLS port gives up and exits');
  t.match(untrusting.text(), /no greeting within 10 s \(if it runs TLS, give --tls or --ca FILE\)/, 'and says what to try');
});

t.test('the console carries on across a node failure: it fails over along --server and resumes its session', async (t) => {
  const data = tempDir(t);
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await startServer(t, { port: portA }, data);
  const tty = new Tty([SIAR, 'admin', 'console', '--server', `127.0.0.1:${portA},127.0.0.1:${portB}`, '--data', data], {});
  t.teardown(() => tty.kill());
  await tty.waitFor(/logged in as admin/, 'the logged-in console');
  await a.server.stop();
  await startServer(t, { port: portB }, data);
  await tty.waitFor(new RegExp(`reconnected to 127\\.0\\.0\\.1:${portB}; session resumed`), 'the failover to node B');
  // Pushes follow the session to node B: a registration there shows up live.
  const c = await SiarClient.connect({ host: '127.0.0.1', port: portB });
  t.teardown(() => c.close());
  await c.register({ institution: 'Politeknik Negeri Lhokseumawe', contact: 'Rahmat', email: 'rahmat@pnl.ac.id', username: 'pnl' });
  await tty.waitFor(/pnl/, 'the registration that arrived on node B');
  tty.type('q');
  t.equal((await tty.waitExit()).exitCode, 0);
});

/**
 * What `siar server` prints (issue 22 item 14): readable lines on a terminal (a real pseudo-terminal),
 * JSON lines into a pipe or with --log-format json; the first lines say where it listens, where the
 * data and mail go and where the admin password is — never the password itself.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { SiarClient } from '../../src/client/connection.js';
import { createConsoleLogger } from '../../src/server/logger.js';
import { SIAR } from '../helpers/cli.js';
import { Capture, tempDir } from '../helpers/siar.js';
import { KEY, PtyScreen } from './tui/pty.js';

t.setTimeout(120_000);

function ptyEnv(): Record<string, string> {
  return { ...(process.env as Record<string, string>), TERM: 'xterm-256color', LANG: 'C.UTF-8' };
}

t.test('on a terminal: readable lines saying where it listens, where data and mail go, where the admin password is', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const server = PtyScreen.spawn(t, process.execPath, [SIAR, 'server', '--port', '0', '--data', 'data'], { cwd: dir, env: ptyEnv(), cols: 160, rows: 40 });
  const screen = await server.waitFor(/connection limit/, 60_000);
  const lines = screen.split('\n').filter(Boolean);
  t.notOk(lines.some((l) => l.trimStart().startsWith('{')), 'no JSON line');
  const listening = lines.findIndex((l) => /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] INFO: siar server listening$/.test(l));
  t.ok(listening >= 0, `a timestamped INFO line says it listens:\n${screen}`);
  t.ok(lines.slice(0, listening).every((l) => !/WARN|ERROR/.test(l)), 'only the admin account line may come before it');
  const port = Number(/^ {4}port: (\d+)$/m.exec(screen)?.[1]);
  t.match(screen, /^ {4}host: "127\.0\.0\.1"$/m, 'where it listens: host');
  t.ok(port > 0, 'and port');
  t.match(screen, new RegExp(`^ {4}dataDir: "${data}"$`, 'm'), 'the data directory, absolute');
  t.match(screen, new RegExp(`^ {4}mail: "${path.join(data, 'mail')}/ \\(\\.eml files: siar admin mail list\\)"$`, 'm'), 'where mail goes');
  t.match(screen, new RegExp(`^ {4}adminPassword: "${path.join(data, 'admin-password')}"$`, 'm'), 'where the admin password is');
  const password = readFileSync(path.join(data, 'admin-password'), 'utf8').trim();
  t.notOk(screen.includes(password), 'never the password itself');

  // The address it printed is where it listens.
  const client = await SiarClient.connect({ host: '127.0.0.1', port });
  t.equal((await client.request('PING')).args.get('pong'), '1');
  await client.close();

  server.write(KEY.ctrl('c'));
  await server.waitFor(/INFO: siar server stopped/);
  t.equal((await server.exited).exitCode, 0, 'Ctrl-C stops it cleanly');
});

t.test('--log-format json keeps JSON lines on a terminal', async (t) => {
  const dir = tempDir(t);
  const server = PtyScreen.spawn(t, process.execPath, [SIAR, 'server', '--port', '0', '--data', 'data', '--log-format', 'json'], { cwd: dir, env: ptyEnv(), cols: 400, rows: 40 });
  const screen = await server.waitFor(/"msg":"connection limit"/, 60_000);
  const records = screen.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  t.match(records.find((r) => r.msg === 'siar server listening'), {
    host: '127.0.0.1', port: Number, dataDir: path.join(dir, 'data'), mail: `${path.join(dir, 'data', 'mail')}/ (.eml files: siar admin mail list)`,
    adminPassword: path.join(dir, 'data', 'admin-password'),
  });
});

t.test('into a pipe the default is JSON, and an SMTP destination is logged without its credentials', async (t) => {
  const dir = tempDir(t);
  const child = spawn(process.execPath, [SIAR, 'server', '--port', '0', '--data', dir, '--smtp', 'smtp://siar:s3cret-pass@127.0.0.1:2525'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { child.kill('SIGTERM'); });
  let listening: Record<string, unknown> | undefined;
  for await (const line of createInterface({ input: child.stdout })) {
    const rec = JSON.parse(line) as Record<string, unknown>;
    t.notOk(line.includes('s3cret-pass'), 'no SMTP password in the log');
    if (rec.msg === 'siar server listening') {
      listening = rec;
      break;
    }
  }
  t.match(listening, { mail: 'smtp://127.0.0.1:2525', dataDir: dir });
});

t.test('the pretty format redacts secrets as the JSON one does', async (t) => {
  for (const format of ['pretty', 'json'] as const) {
    const out = new Capture();
    const log = createConsoleLogger('info', format, out);
    log.info({ password: 'hunter2-secret', user: { token: 'tok-secret' }, body: 'message-secret', username: 'unhas' }, 'login');
    const text = out.chunks.join('');
    t.match(text, /unhas/, `${format}: the line was written`);
    t.notMatch(text, /hunter2-secret|tok-secret|message-secret/, `${format}: no secret`);
    t.match(text, /\[redacted\]/, `${format}: the redaction is visible`);
  }
});

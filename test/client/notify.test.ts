/**
 * Desktop notifications (issue 21 item 6): `siar listen --notify` and `siar tui --notify` run the
 * desktop's notifier once per popup. A fake `notify-send` on PATH records its arguments; the
 * server, the sender and the popup are real.
 */
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import t, { type Test } from 'tap';
import {
  BODY_MAX, TITLE_MAX, findNotifier, notificationText, notifierCommand, urgencyOf, type NotifiedPopup,
} from '../../src/client/notify.js';
import { SIAR } from '../helpers/cli.js';
import { startServer, tempDir, until, type TestServer } from '../helpers/siar.js';
import { KEY, PtyScreen } from './tui/pty.js';

t.setTimeout(240_000);
const STEP = 20_000;

// What must never reach the notifier: C0/C1 controls, DEL, bidi overrides and isolates (line feed
// is allowed in the body only, checked apart).
// eslint-disable-next-line no-control-regex
const RAW_CONTROLS = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** A fake notifier in a folder of its own: appends its argv (JSON, one line) to the returned log; `exitCode` 1 fails. */
function fakeNotifier(t: Test, exitCode = 0): { dir: string; log: string } {
  const dir = tempDir(t, 'siar-fake-bin-');
  const log = path.join(dir, 'calls.jsonl');
  const script = path.join(dir, 'notify-send');
  writeFileSync(script, `#!${process.execPath}\nrequire('node:fs').appendFileSync(${JSON.stringify(log)}, JSON.stringify(process.argv.slice(2)) + '\\n');\nprocess.exit(${exitCode});\n`);
  chmodSync(script, 0o755);
  return { dir, log };
}

function calls(log: string): string[][] {
  return existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]) : [];
}

/** `siar listen` as `username` in the background with PATH = `binDir` only; its stdout lines, all of its stderr. */
async function listener(t: Test, s: TestServer, username: string, password: string, binDir: string, args: string[]) {
  const env = { ...process.env, PATH: binDir, SIAR_SERVER: `127.0.0.1:${s.port}`, SIAR_USER: username, SIAR_PASSWORD: password, XDG_CONFIG_HOME: tempDir(t) };
  const child = spawn(process.execPath, [SIAR, 'listen', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { child.kill(); });
  const out = { stderr: '', lines: [] as string[] };
  child.stderr!.on('data', (d: Buffer) => { out.stderr += d.toString(); });
  createInterface({ input: child.stdout! }).on('line', (l) => out.lines.push(l));
  await until('siar listen logged in', () => out.stderr.includes(`listening as ${username}`), STEP);
  return out;
}

const HOSTILE_SUBJECT = '--urgency=low \u001b]0;pwned\u0007Rapat\ndarurat\u202e';
const HOSTILE_BODY = `<b>Gedung</b> & \u001b[2Jevakuasi\r\n${'x'.repeat(2000)}`;

t.test('the notifier command: urgency from priority, text cleaned and bounded, free text after --', async (t) => {
  t.equal(urgencyOf(undefined), 'normal', 'a popup without priority is normal');
  t.equal(urgencyOf('normal'), 'normal');
  t.equal(urgencyOf('high'), 'critical', 'high stays on screen until dismissed');
  t.equal(urgencyOf('urgent'), 'critical');
  t.equal(urgencyOf('whatever'), 'normal', 'an unknown priority is normal');

  const p: NotifiedPopup = { id: 7, from: 'unhas', institution: 'Universitas\u001b[31m Hasanuddin', subject: HOSTILE_SUBJECT, preview: HOSTILE_BODY, attachments: ['peta.pdf'], priority: 'urgent' };
  const cmd = notifierCommand('notify-send', '/usr/bin/notify-send', p);
  const dashes = cmd.args.indexOf('--');
  t.ok(dashes > 0, 'options end with --');
  t.same(cmd.args.slice(0, dashes), ['--app-name=siar', '--urgency=critical', '--category=im.received'], 'only siar\'s own options before it');
  t.equal(cmd.args.length, dashes + 3, 'then the title and the body, nothing else');
  const [title, body] = cmd.args.slice(dashes + 1) as [string, string];
  t.notMatch(title, RAW_CONTROLS);
  t.notMatch(title, /\n/, 'the title is one line');
  t.notMatch(body, RAW_CONTROLS);
  t.ok([...title].length <= TITLE_MAX && body.length <= BODY_MAX, 'both are bounded');
  t.match(title, /^URGENT: --urgency=low \]0;pwnedRapat darurat — unhas \(Universitas\[31m Hasanuddin\)$/, 'urgent is marked; the controls are dropped');
  t.match(body, /^&lt;b&gt;Gedung&lt;\/b&gt; &amp; \[2Jevakuasi\nx+…\n\[1 attachment\(s\): peta\.pdf\]$/, 'markup is shown, not obeyed; the body is cut');

  const mac = notifierCommand('osascript', '/usr/bin/osascript', p);
  t.same(mac.args.slice(0, 6), ['-e', 'on run argv', '-e', mac.args[3], '-e', 'end run'], 'osascript: a fixed script');
  t.match(mac.args[3], /^display notification \(item 3 of argv\) with title \(item 1 of argv\) subtitle \(item 2 of argv\) sound name "Sosumi"$/);
  t.same(mac.args.slice(6), ['siar', notificationText(p).title, notificationText(p).body], 'the text as arguments, never as script source');

  t.same(findNotifier('win32', '/usr/bin'), null, 'Windows: none');
  t.same(findNotifier('linux', tempDir(t)), null, 'not on PATH: none');
});

t.test('siar listen --notify runs notify-send once per popup with the popup\'s text, cleaned, after --, urgency from priority', async (t) => {
  const s = await startServer(t);
  const ugm = await s.member('ugm');
  const unhas = await s.memberClient('unhas');
  const fake = fakeNotifier(t);
  const out = await listener(t, s, 'ugm', ugm.password, fake.dir, ['--notify']);
  t.notMatch(out.stderr, /notifier/i, 'a notifier was found: nothing to say');

  const sent = await unhas.send({ to: ['ugm'], subject: HOSTILE_SUBJECT, body: HOSTILE_BODY });
  await until('the popup is printed', () => out.lines.length >= 2, STEP);
  t.match(out.lines[0], `#${sent.id} from unhas`, 'the popup is printed as without --notify');
  await until('the notifier ran', () => calls(fake.log).length === 1, STEP);
  const [argv] = calls(fake.log);
  t.same(argv!.slice(0, 4), ['--app-name=siar', '--urgency=normal', '--category=im.received', '--'], 'a popup without priority is normal; free text after --');
  t.equal(argv!.length, 6);
  t.equal(argv![4], '--urgency=low ]0;pwnedRapat darurat — unhas (Universitas unhas)', 'the title: subject and sender, controls dropped, one line');
  t.notMatch(argv![5], RAW_CONTROLS, 'the body holds no control character');
  t.ok(argv![5]!.length <= BODY_MAX, 'and is bounded');

  // The next popup, urgent: its own notification, critical, marked in the title.
  await unhas.send({ to: ['ugm'], subject: 'Kedua', body: 'isi', priority: 'urgent' });
  await until('the second notification', () => calls(fake.log).length === 2, STEP);
  t.same(calls(fake.log)[1]!.slice(1, 2), ['--urgency=critical'], 'urgent is critical');
  t.equal(calls(fake.log)[1]![4], 'URGENT: Kedua — unhas (Universitas unhas)');
  await unhas.send({ to: ['ugm'], subject: 'Ketiga', body: 'isi', priority: 'high' });
  await until('the third notification', () => calls(fake.log).length === 3, STEP);
  t.same(calls(fake.log)[2]!.slice(1, 2), ['--urgency=critical'], 'high is critical too: it stays until dismissed');
  t.equal(calls(fake.log)[2]![4], 'Important: Ketiga — unhas (Universitas unhas)');
});

t.test('without a notifier, or with a failing one, --notify says so once and popups are still printed', async (t) => {
  const s = await startServer(t);
  const ugm = await s.member('ugm');
  const itb = await s.member('itb');
  const unhas = await s.memberClient('unhas');

  const none = await listener(t, s, 'ugm', ugm.password, tempDir(t, 'siar-empty-bin-'), ['--notify']);
  t.match(none.stderr, /No desktop notifier found \(notify-send from libnotify/, 'says which notifier it looked for');

  const failing = fakeNotifier(t, 1);
  const failed = await listener(t, s, 'itb', itb.password, failing.dir, ['--notify']);
  for (const subject of ['Satu', 'Dua']) {
    await unhas.send({ to: ['ugm', 'itb'], subject, body: 'isi' });
    await until(`popup ${subject} printed twice`, () => none.lines.some((l) => l.includes(subject)) && failed.lines.some((l) => l.includes(subject)), STEP);
  }
  await until('the failing notifier ran twice', () => calls(failing.log).length === 2, STEP);
  await until('the failure was told', () => failed.stderr.includes('The desktop notifier failed'), STEP);
  t.equal(none.stderr.match(/No desktop notifier/g)?.length, 1, 'once, not per popup');
  t.equal(failed.stderr.match(/notifier failed/g)?.length, 1, 'a failure is told once too');
});

t.test('siar tui --notify notifies each new popup once, and says on the status line when there is no notifier', async (t) => {
  const s = await startServer(t);
  const member = await s.member('itb');
  const unhas = await s.memberClient('unhas');
  const fake = fakeNotifier(t);

  const start = (binDir: string) => {
    const home = tempDir(t, 'siar-home-');
    const config = path.join(home, 'config');
    mkdirSync(path.join(config, 'siar'), { recursive: true });
    writeFileSync(path.join(config, 'siar', 'client.json'), JSON.stringify({ server: `127.0.0.1:${s.port}`, username: 'itb' }));
    const env: Record<string, string> = {
      ...(process.env as Record<string, string>),
      PATH: binDir, HOME: home, XDG_CONFIG_HOME: config, TERM: 'xterm-256color', LANG: 'C.UTF-8', LC_ALL: 'C.UTF-8',
    };
    delete env.SIAR_SERVER;
    return PtyScreen.spawn(t, process.execPath, [SIAR, 'tui', '--notify'], { cwd: home, env });
  };

  const tui = start(fake.dir);
  await tui.waitFor('Log in', STEP);
  tui.write(`${member.password}${KEY.enter}`);
  await tui.waitFor('1 Inbox (0 unread)', STEP);
  await unhas.send({ to: ['itb'], subject: 'Rapat koordinasi', body: 'Senin pukul 09.00' });
  await tui.waitFor('Rapat koordinasi', STEP);
  await until('the notifier ran', () => calls(fake.log).length === 1, STEP);
  t.same(calls(fake.log)[0], ['--app-name=siar', '--urgency=normal', '--category=im.received', '--', 'Rapat koordinasi — unhas (Universitas unhas)', 'Senin pukul 09.00']);
  tui.write(KEY.ctrl('c'));
  await Promise.race([tui.exited, new Promise((_, reject) => setTimeout(() => reject(new Error('did not exit')), STEP))]);

  const bare = start(tempDir(t, 'siar-empty-bin-'));
  t.match(await bare.waitFor('No desktop notifier found', STEP), /Log in/, 'told on the status line of the first screen');
  bare.write(KEY.ctrl('c'));
  await Promise.race([bare.exited, new Promise((_, reject) => setTimeout(() => reject(new Error('did not exit')), STEP))]);
  t.equal(calls(fake.log).length, 1, 'one notification per popup');
});

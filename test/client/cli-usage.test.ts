/**
 * The command line as people type it (issue #22): `-` for standard input, repeated options, pipes
 * closed early, messages too long, a send that reaches nobody, no command or a mistyped one. The
 * real `siar` against a real server.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import { tempDir } from '../helpers/siar.js';
import { SIAR, jsonLines, siar, startWithMembers, type Run } from '../helpers/cli.js';

// About forty runs of the real executable: on a busy machine that takes minutes.
t.setTimeout(600_000);

const data = tempDir(t);
const { admin, as } = await startWithMembers(t, data, [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada']]);
const unhas = as.unhas!;
const ugm = as.ugm!;

/** No yargs wording and no JavaScript error text ever reaches the user. */
function plainSentences(t: Test, r: Run): void {
  t.notMatch(r.stderr, /is not a function|Cannot read properties|TypeError|at .*\.ts:\d+|Not enough non-option arguments|Unknown argument/);
}

t.test('--body-file - reads the body from standard input, as advertised', async (t) => {
  const sent = await siar(['send', '--to', 'ugm', '--subject', 'Dari stdin', '--body-file', '-'], unhas, 'baris satu\nbaris dua\n');
  t.equal(sent.code, 0, sent.stderr);
  const id = Number(sent.stdout.trim());
  const read = jsonLines((await siar(['read', String(id), '--json'], ugm)).stdout)[0]!;
  t.equal(read.body, 'baris satu\nbaris dua\n');
  const missing = await siar(['send', '--to', 'ugm', '--subject', 'x', '--body-file'], unhas);
  t.not(missing.code, 0);
  t.match(missing.stderr, /body-file/, 'a missing file name is named');
});

t.test('repeating an option works where it means more, and is refused with a sentence where it cannot', async (t) => {
  const both = await siar(['send', '--to', 'ugm', '--to', 'unhas', '--subject', 'Dua kali --to', '--body', 'x'], unhas);
  t.equal(both.code, 0, both.stderr);
  plainSentences(t, both);
  const sent = jsonLines((await siar(['outbox', '--json'], unhas)).stdout).find((m) => m.id === Number(both.stdout.trim()))!;
  t.same((sent.recipients as Array<{ username: string }>).map((r) => r.username).sort(), ['ugm', 'unhas'], 'both recipients');

  for (const args of [
    ['send', '--to', 'ugm', '--subject', 'a', '--subject', 'b', '--body', 'x'],
    ['send', '--to', 'ugm', '--subject', 'a', '--body-file', 'x', '--body-file', 'y'],
    ['send', '--channel', 'a', '--channel', 'b', '--subject', 'a'],
    ['inbox', '--limit', '1', '--limit', '2'],
    ['read', '1', '--save-dir', 'a', '--save-dir', 'b'],
    ['inbox', '--user', 'ugm', '--user', 'unhas'],
    ['admin', 'pending', '--status', 'all', '--status', 'pending'],
    ['admin', 'channel', 'create', 'x', '--description', 'a', '--description', 'b'],
  ]) {
    const r = await siar(args, ugm);
    t.not(r.code, 0, args.join(' '));
    const option = args.find((a, i) => a.startsWith('--') && args.indexOf(a) !== i)!;
    t.match(r.stderr, new RegExp(`^siar: ${option} is given 2 times with different values; give it once\\.\\n$`), args.join(' '));
  }
  const same = await siar(['inbox', '--json', '--json', '--limit', '1', '--limit', '1'], ugm);
  t.equal(same.code, 0, 'the same value twice is the same as once');
});

t.test('a reader that closes the pipe early ends the command quietly', async (t) => {
  for (let i = 0; i < 3; i++) await siar(['send', '--to', 'ugm', '--subject', `Pesan ${i}`, '--body', 'x'], unhas);
  for (const args of [['outbox', '--json'], ['inbox'], ['outbox']]) {
    const who = args[0] === 'inbox' ? ugm : unhas;
    // Like `siar outbox --json | head -0`: the reading end is gone before siar writes anything.
    const child = spawn(process.execPath, [SIAR, ...args], { env: { ...process.env, ...who }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.destroy();
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const [code] = (await once(child, 'exit')) as [number | null];
    t.equal(stderr, '', `siar ${args.join(' ')}: nothing on stderr`);
    t.equal(code, 0, `siar ${args.join(' ')}: exit 0, as the command did its work`);
  }
});

t.test('sizes are checked before sending and explained in the sender\'s terms', async (t) => {
  const before = jsonLines((await siar(['outbox', '--json', '--limit', '500'], unhas)).stdout).length;
  const long = await siar(['send', '--to', 'ugm', '--subject', 'Panjang', '--body-file=-'], unhas, 'a'.repeat(60_000));
  t.not(long.code, 0);
  t.match(long.stderr, /^siar: The body is 60,000 characters; the server takes at most 49,152\. .*--attach FILE/);
  // Under the character limit but over the frame limit: every line break travels as two bytes.
  const wide = await siar(['send', '--to', 'ugm', '--subject', 'Lebar', '--body-file=-'], unhas, '\n'.repeat(40_000));
  t.not(wide.code, 0);
  t.match(wide.stderr, /^siar: The message is 80,\d{3} bytes once encoded .*at most 65,536 bytes in one message\. Nothing was sent\. .*--attach FILE/);
  t.notMatch(wide.stderr, /FRAME_TOO_LONG/);
  const subject = await siar(['send', '--to', 'ugm', '--subject', 's'.repeat(201), '--body', 'x'], unhas);
  t.match(subject.stderr, /The subject is 201 characters; the server takes at most 200\./);
  t.equal(jsonLines((await siar(['outbox', '--json', '--limit', '500'], unhas)).stdout).length, before, 'nothing was sent');
  const readme = readFileSync(path.join(import.meta.dirname, '../../README.md'), 'utf8');
  t.match(readme, /49,152 characters/, 'the README states the body limit');
});

t.test('a send that reaches nobody says so on stderr', async (t) => {
  t.equal((await siar(['admin', 'channel', 'create', 'sepi'], admin)).code, 0);
  t.equal((await siar(['subscribe', 'sepi'], unhas)).code, 0);
  const lonely = await siar(['send', '--channel', 'sepi', '--subject', 'Halo?', '--body', 'x'], unhas);
  t.equal(lonely.code, 0, 'the message is stored');
  t.match(lonely.stdout, /^\d+\n$/, 'stdout still has only the id');
  t.equal(lonely.stderr, `siar: warning: message ${lonely.stdout.trim()} reached nobody: #sepi has no subscribers besides you.\n`);
  const json = await siar(['send', '--channel', 'sepi', '--subject', 'Halo lagi', '--body', 'x', '--json'], unhas);
  t.match(jsonLines(json.stdout)[0], { recipients: '0' });
  t.match(json.stderr, /reached nobody/, 'with --json too');
  const heard = await siar(['send', '--to', 'ugm', '--subject', 'Ada orang', '--body', 'x'], unhas);
  t.equal(heard.stderr, '', 'no warning when someone gets it');
});

t.test('no command or a mistyped one: the commands, one line each, and the nearest', async (t) => {
  const none = await siar([], {});
  t.not(none.code, 0);
  plainSentences(t, none);
  t.match(none.stderr, /^siar: Name a command of siar:\n/);
  t.match(none.stderr, /^ {2}siar send +send a popup message to members \(prints the message id\)$/m, 'each command on one line');
  t.match(none.stderr, /^ {2}siar admin +administration: /m);

  const typo = await siar(['inbx'], {});
  plainSentences(t, typo);
  t.match(typo.stderr, /^siar: "inbx" is not a command of siar\. Did you mean `siar inbox`\?/);

  const bogus = await siar(['bogus'], {});
  plainSentences(t, bogus);
  t.match(bogus.stderr, /^siar: "bogus" is not a command of siar\./);
  t.match(bogus.stderr, /^ {2}siar tui +/m);

  const adminNone = await siar(['admin'], {});
  plainSentences(t, adminNone);
  t.match(adminNone.stderr, /^siar: Name a command of siar admin:\n/);
  t.match(adminNone.stderr, /^ {2}siar admin pending +registration requests awaiting approval$/m);
  const adminTypo = await siar(['admin', 'aprove', '3'], {});
  plainSentences(t, adminTypo);
  t.match(adminTypo.stderr, /Did you mean `siar admin approve`\?/);
  const channelNone = await siar(['admin', 'channel'], {});
  t.match(channelNone.stderr, /^ {2}siar admin channel create +create a channel$/m);

  // Outside the server's directory there is no data/admin-password: the message says what to give.
  const elsewhere = await new Promise<Run>((resolve) => {
    execFile(process.execPath, [SIAR, 'admin', 'pending'], { cwd: tempDir(t), env: { ...process.env, SIAR_SERVER: ugm.SIAR_SERVER!, SIAR_PASSWORD: '' } },
      (err, stdout, stderr) => resolve({ code: err ? Number(err.code) : 0, stdout, stderr }));
  });
  t.not(elsewhere.code, 0);
  t.match(elsewhere.stderr, /^siar: No password: set SIAR_PASSWORD or give --password-file FILE; on the server machine, give --data DIR/);
});

t.test('yargs\'s own wording never reaches the user: a missing ID, an unknown option, a wrong choice, a missing value are sentences that say what to do', async (t) => {
  for (const [args, expected] of [
    [['report'], /^siar: siar report needs its <id>: siar report <id> \(siar report --help shows the options\)\.\n$/],
    [['send', '--to', 'ugm', '--subject', 'x', '--bogus'], /^siar: --bogus is not an option of siar send; siar send --help lists them\.\n$/],
    [['report', '4', '5'], /^siar: "5" is not an option of siar report; siar report --help lists them\.\n$/],
    [['send', '--to', 'ugm', '--subject', 'x', '--priority', 'loud'], /^siar: --priority must be one of normal, high, urgent, not "loud"\.\n$/],
    [['admin', 'send', '--subject', 'x', '--priority', 'loud'], /^siar: --priority must be one of normal, high, urgent, not "loud"\.\n$/],
    [['send', '--to', 'ugm', '--subject', 'x', '--at'], /^siar: --at needs a value\.\n$/],
    [['send', '--to', 'ugm'], /^siar: --subject is required\.\n$/],
  ] as const) {
    const r = await siar([...args], unhas);
    t.not(r.code, 0, args.join(' '));
    plainSentences(t, r);
    t.notMatch(r.stderr, /Invalid values|Missing required argument|Not enough arguments following|\\n/, args.join(' '));
    t.match(r.stderr, expected, args.join(' '));
  }
  t.equal(jsonLines((await siar(['outbox', '--json'], unhas)).stdout).filter((m) => m.subject === 'x').length, 0, 'nothing was sent');
});

t.test('send\'s reminder options are checked in the sender\'s terms (flags, not the protocol\'s remind=/ack=1) before anything is sent', async (t) => {
  for (const [args, expected] of [
    [['--remind-every', '15m'], /^siar: --remind-every reminds those who have not acknowledged: add --ack \(or --priority urgent\)\. Nothing was sent\.\n$/],
    [['--priority', 'urgent', '--no-ack', '--remind-every', '15m'], /^siar: --remind-every reminds those who have not acknowledged: add --ack \(or --priority urgent\)\. Nothing was sent\.\n$/],
    [['--ack', '--remind-max', '3'], /^siar: --remind-max needs --remind-every \(how often to remind\)\. Nothing was sent\.\n$/],
    [['--ack', '--remind-every', '15m', '--remind-max', '0'], /^siar: --remind-max must be a whole number from 1 to 100\. Nothing was sent\.\n$/],
    [['--ack', '--remind-every', '15m', '--remind-max', 'abc'], /^siar: --remind-max must be a whole number from 1 to 100\. Nothing was sent\.\n$/],
    [['--replaces', 'abc'], /^siar: --replaces takes the id of a message you sent \(a whole number\)\. Nothing was sent\.\n$/],
  ] as const) {
    const r = await siar(['send', '--to', 'ugm', '--subject', 'pengingat', ...args], unhas);
    t.not(r.code, 0, args.join(' '));
    t.match(r.stderr, expected, args.join(' '));
  }
  t.equal(jsonLines((await siar(['outbox', '--json'], unhas)).stdout).filter((m) => m.subject === 'pengingat').length, 0, 'nothing was sent');
  const ok = await siar(['send', '--to', 'ugm', '--subject', 'pengingat ok', '--priority', 'urgent', '--remind-every', '15m', '--remind-max', '2'], unhas);
  t.equal(ok.code, 0, ok.stderr);
});

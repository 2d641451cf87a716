/**
 * Text from other people (institution names, contacts, subjects, bodies, attachment names) printed
 * by the real `siar` against a real server: control and bidi-override characters are shown as
 * escapes and never reach the terminal; --json keeps every value exact; the server refuses them in
 * e-mail addresses and attachment names.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import t from 'tap';
import { tempDir } from '../helpers/siar.js';
import { SIAR, jsonLines, siar, startWithMembers } from '../helpers/cli.js';

t.setTimeout(300_000);

// What must never reach a terminal raw: ESC, BEL, CR, C1 CSI, and the bidi overrides/isolates.
// eslint-disable-next-line no-control-regex
const RAW_CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

const INSTITUTION = 'Universitas \u001b[2JHasanuddin\u202e';
const SUBJECT = 'Rapat\nFrom: admin\u001b]0;pwned\u0007';
const BODY = 'baris \u001b[31mmerah\r\nkedua \u009b2J\u2066akhir\n';

t.test('text from others is printed with its control characters shown, not obeyed; the server refuses them in addresses and attachment names', async (t) => {
  const data = tempDir(t);
  const { admin, as } = await startWithMembers(t, data, [['unhas', INSTITUTION], ['ugm', 'Universitas Gadjah Mada']]);

  const pending = await siar(['admin', 'pending', '--status', 'all'], admin);
  t.equal(pending.code, 0, pending.stderr);
  t.notMatch(pending.stdout, RAW_CONTROLS, 'the admin\'s table holds no raw control character');
  t.match(pending.stdout, 'Universitas \\x1b[2JHasanuddin\\u202e', 'the escape is shown as text');
  const pendingJson = await siar(['admin', 'pending', '--status', 'all', '--json'], admin);
  t.equal(jsonLines(pendingJson.stdout).find((r) => r.username === 'unhas')!.institution, INSTITUTION, '--json keeps the value exact');
  t.notMatch(pendingJson.stdout, RAW_CONTROLS, 'and in escaped bytes (\\u202e), not raw ones');

  // ugm listens (human output) while unhas sends.
  const listener = spawn(process.execPath, [SIAR, 'listen'], { env: { ...process.env, ...as.ugm }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { listener.kill(); });
  const popupLines = createInterface({ input: listener.stdout! })[Symbol.asyncIterator]();
  await new Promise<void>((resolve) => listener.stderr!.once('data', () => resolve()));

  const sent = await siar(['send', '--to', 'ugm', '--subject', SUBJECT, '--body-file=-'], as.unhas, BODY);
  t.equal(sent.code, 0, sent.stderr);
  const id = sent.stdout.trim();

  const headline = (await popupLines.next()).value as string;
  const preview = (await popupLines.next()).value as string;
  t.notMatch(headline + preview, RAW_CONTROLS, 'the popup line on siar listen');
  t.match(headline, `from unhas (Universitas \\x1b[2JHasanuddin\\u202e): Rapat\\nFrom: admin\\x1b]0;pwned\\x07`, 'one line, the subject\'s line break shown');
  t.equal(preview, '  baris \\x1b[31mmerah');

  const read = await siar(['read', id], as.ugm);
  t.equal(read.code, 0, read.stderr);
  t.notMatch(read.stdout, RAW_CONTROLS, 'siar read');
  const lines = read.stdout.split('\n');
  t.ok(lines.includes('Subject: Rapat\\nFrom: admin\\x1b]0;pwned\\x07'), 'the subject stays on its line');
  t.same(lines.filter((l) => l.startsWith('From:')), ['From:    unhas'], 'no forged From: line');
  t.same(lines.slice(-3), ['baris \\x1b[31mmerah', 'kedua \\x9b2J\\u2066akhir', ''], 'the body keeps its lines, CR LF as LF');

  const readJson = await siar(['read', id, '--json'], as.ugm);
  const record = jsonLines(readJson.stdout)[0]!;
  t.equal(record.subject, SUBJECT, '--json: the subject exact');
  t.equal(record.body, BODY, '--json: the body exact');
  t.notMatch(readJson.stdout, RAW_CONTROLS, '--json: escaped, not raw');

  for (const [who, args] of [['ugm', ['inbox']], ['unhas', ['outbox']], ['unhas', ['directory']]] as const) {
    const r = await siar([...args], as[who]!);
    t.equal(r.code, 0, r.stderr);
    t.notMatch(r.stdout, RAW_CONTROLS, `siar ${args.join(' ')}`);
  }
  const inbox = await siar(['inbox'], as.ugm);
  t.match(inbox.stdout, /^\S+\s+\S+ \S+\s+unhas\s+\s+Rapat\\nFrom: admin\\x1b\]0;pwned\\x07$/m, 'the inbox row stays one row');

  // The server refuses them where they have no business: e-mail addresses and attachment names.
  const email = await siar(['register', '--institution', 'X', '--contact', 'Y', '--email', 'a\u001b[2J@x.ac.id', '--username', 'sneaky'], { SIAR_SERVER: as.ugm!.SIAR_SERVER! });
  t.not(email.code, 0);
  t.match(email.stderr, /BAD_EMAIL/);
  t.notMatch(email.stderr, RAW_CONTROLS, 'the refusal quotes the address with its escape shown');

  // (Names over 255 bytes cannot exist on this disk; test/server/errors.test.ts sends one over the protocol.)
  const file = path.join(tempDir(t), 'gambar\u202etxt.exe');
  writeFileSync(file, 'isi\n');
  const r = await siar(['send', '--to', 'ugm', '--subject', 'Lampiran', '--attach', file], as.unhas!);
  t.not(r.code, 0, 'a name with a right-to-left override is refused');
  t.match(r.stderr, /control or bidirectional-override character; rename the file/);
  t.notMatch(r.stderr, RAW_CONTROLS);
  const outbox = await siar(['outbox', '--json'], as.unhas!);
  t.same(jsonLines(outbox.stdout).map((m) => m.subject), [SUBJECT], 'nothing more was sent');
});

import t from 'tap';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createMailTransport, credentialsMail, passwordResetMail, rejectionMail } from '../../../src/server/mail/index.js';
import { registrationExpiredMail } from '../../../src/server/mail/templates.js';
import { generatePassword } from '../../../src/server/secrets.js';
import { deadPort, parseEml, startReceiver, textLines } from './helpers.js';

const content = credentialsMail({ institution: 'Escuela 12', contact: 'Luis', username: 'esc12', password: 'Pw-9f3K' });
const mail = { from: 'siar <siar@example.org>', to: 'luis@example.net', ...content, id: 7, kind: 'credentials' };

t.test('without an SMTP URL the transport writes files', async (t) => {
  const transport = createMailTransport({ dataDir: t.testdir() });
  t.equal(transport.kind, 'file');
  transport.close();
});

t.test('the file transport writes a parseable .eml with mode 0600 holding the credentials lines', async (t) => {
  const dataDir = t.testdir();
  const transport = createMailTransport({ dataDir });
  t.teardown(() => transport.close());
  await transport.send(mail);

  const dir = join(dataDir, 'mail');
  t.equal((await stat(dir)).mode & 0o777, 0o700, 'the mail folder has mode 0700');
  const files = await readdir(dir);
  t.equal(files.length, 1, 'one file, no temp files');
  const name = files[0]!;
  t.match(name, /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z-7-credentials\.eml$/);
  t.equal((await stat(join(dir, name))).mode & 0o777, 0o600, 'the file has mode 0600');

  const raw = await readFile(join(dir, name), 'utf8');
  t.match(raw, /\r\n\r\n/, 'CRLF line ends as in RFC 5322');
  const parsed = parseEml(raw);
  t.equal(parsed.headers.get('to'), 'luis@example.net');
  t.equal(parsed.headers.get('from'), 'siar <siar@example.org>');
  t.equal(parsed.headers.get('subject'), content.subject);
  t.equal(parsed.headers.get('x-siar-mail-id'), '7');
  t.ok(parsed.headers.get('message-id'), 'has a Message-ID');
  t.ok(parsed.headers.get('date'), 'has a Date');
  const lines = textLines(parsed.text);
  t.ok(lines.includes('Username: esc12'));
  t.ok(lines.includes('Password: Pw-9f3K'));
});

t.test('the file transport keeps every mail in its own file and makes a safe name of the kind', async (t) => {
  const dataDir = t.testdir();
  const transport = createMailTransport({ dataDir });
  t.teardown(() => transport.close());
  await transport.send(mail);
  await transport.send({ ...mail, id: 8, kind: '../../etc/passwd' });
  const files = (await readdir(join(dataDir, 'mail'))).sort();
  t.equal(files.length, 2);
  t.ok(files.every((f) => !f.includes('/') && f.endsWith('.eml')));
  t.ok(files.some((f) => /-8-_etc_passwd\.eml$/.test(f)), files.join(', '));
});

t.test('the SMTP transport delivers to a real SMTP receiver', async (t) => {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const transport = createMailTransport({ smtpUrl: receiver.url, dataDir: t.testdir() });
  t.teardown(() => transport.close());
  t.equal(transport.kind, 'smtp');

  await transport.send(mail);
  t.equal(receiver.received.length, 1);
  const got = receiver.received[0]!;
  t.strictSame(got.to, ['luis@example.net'], 'envelope recipient');
  t.equal(got.from, 'siar@example.org', 'envelope sender');
  const parsed = parseEml(got.raw);
  t.equal(parsed.headers.get('subject'), content.subject);
  const lines = textLines(parsed.text);
  t.ok(lines.includes('Username: esc12'));
  t.ok(lines.includes('Password: Pw-9f3K'));
});

t.test('the SMTP transport fails fast when nothing listens', async (t) => {
  const port = await deadPort();
  const transport = createMailTransport({ smtpUrl: `smtp://127.0.0.1:${port}`, dataDir: t.testdir() });
  t.teardown(() => transport.close());
  const started = Date.now();
  await t.rejects(transport.send(mail), { message: /ECONNREFUSED/ });
  t.ok(Date.now() - started < 5000, 'within seconds');
});

t.test('an SMTP URL that is not smtp:// or smtps:// is refused', async (t) => {
  const dataDir = t.testdir();
  t.throws(() => createMailTransport({ smtpUrl: 'http://mail.example.org', dataDir }), { message: /smtp:\/\/ or smtps:\/\// });
  t.throws(() => createMailTransport({ smtpUrl: 'not a url', dataDir }), { message: /not a valid URL/ });
  t.equal(createMailTransport({ smtpUrl: 'smtps://u:p@mail.example.org:465', dataDir }).kind, 'smtp');
});

/** The body of a raw .eml as its lines (headers dropped), CRLF split as written. */
function rawBodyLines(raw: string): string[] {
  return raw.slice(raw.indexOf('\r\n\r\n') + 4).split('\r\n');
}

t.test('the .eml keeps the credentials lines whole: grep finds Username: and Password: as written (issue 22)', async (t) => {
  const password = generatePassword();
  const cases = [
    // A long ASCII name: lines of the template used to pass 76 characters, which made the whole
    // body quoted-printable and let its soft line breaks cut `Password: =` from the password.
    { institution: 'Universitas Hasanuddin Fakultas Kedokteran dan Ilmu Kesehatan Masyarakat', contact: 'Budi Santoso', ascii: true },
    // Non-ASCII text must be quoted-printable; the credentials lines must still not be wrapped.
    // (With this name and contact the Password line itself used to be cut: `Password: =`.)
    { institution: 'Universitas Négeri Médan', contact: 'Dr. Budi Santoso Wibisono, M.Kom', ascii: false },
    { institution: 'Universitas Negeri Médan — Fakultas Ilmu Pendidikan dan Kebudayaan Nasional', contact: 'Ana Pérez', ascii: false },
  ];
  for (const c of cases) {
    const dataDir = t.testdir();
    const transport = createMailTransport({ dataDir });
    t.teardown(() => transport.close());
    for (const [id, text] of [
      [1, credentialsMail({ institution: c.institution, contact: c.contact, username: 'unhas', password, server: 'siar.example.ac.id:7400' })],
      [2, passwordResetMail({ institution: c.institution, contact: c.contact, username: 'unhas', password })],
    ] as const) {
      await transport.send({ ...mail, ...text, id, kind: id === 1 ? 'credentials' : 'password_reset' });
    }
    for (const name of await readdir(join(dataDir, 'mail'))) {
      const raw = await readFile(join(dataDir, 'mail', name), 'utf8');
      const body = rawBodyLines(raw);
      t.ok(body.includes('Username: unhas'), `${name}: the Username line is whole in the file`);
      t.ok(body.includes(`Password: ${password}`), `${name}: the Password line is whole in the file`);
      t.notOk(body.some((l) => /^(Username|Password): *=?$/.test(l)), `${name}: no credentials line is cut by a soft break`);
      t.ok(body.every((l) => l.length <= 76), `${name}: no line is longer than 76 characters`);
      if (c.ascii) t.match(raw, /^Content-Transfer-Encoding: 7bit\r$/m, `${name}: plain ASCII text is sent as it is (7bit)`);
    }
  }
});

t.test('every template keeps its lines within 76 characters, whatever the names', async (t) => {
  const long = { institution: 'Sekolah Tinggi Ilmu Kesehatan dan Teknologi Informasi Nusantara Raya Indonesia Timur', contact: 'Prof. Dr. Ir. Hj. Andi Nurul Fadhilah Kusumawardhani', username: 'stikes-nusantara', password: generatePassword() };
  const texts = [
    credentialsMail(long).text,
    passwordResetMail(long).text,
    rejectionMail({ ...long, reason: 'We could not confirm that the institution is accredited; please send the accreditation letter with a new request.' }).text,
    registrationExpiredMail({ ...long, days: 30 }).text,
  ];
  for (const text of texts) {
    const over = text.split('\n').filter((l) => l.length > 76);
    t.same(over, [], 'no line over 76 characters');
  }
});

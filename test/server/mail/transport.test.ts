import t from 'tap';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createMailTransport, credentialsMail } from '../../../src/server/mail/index.js';
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

/**
 * `siar admin mail list|show` (issue 22 item 11): the embedded mail folder read back as text by the
 * real executable, against mail a real server wrote; the password it shows opens the account.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { jsonLines, siar, startSiarServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/siar.js';

t.setTimeout(180_000);

t.test('admin mail list and show read the mailed credentials back, even from a quoted-printable mail', async (t) => {
  const data = tempDir(t);
  const server = (await startSiarServer(t, data)).address;
  const env = { SIAR_SERVER: server };
  // Non-ASCII names make the mail quoted-printable: the case a grep of the file gets wrong.
  const reg = await siar(['register', '--institution', 'Universitas Négeri Médan', '--contact', 'Dr. Budi Santoso Wibisono, M.Kom',
    '--email', 'budi@unimed.ac.id', '--username', 'unimed'], env);
  t.equal(reg.code, 0, reg.stderr);
  const approved = await siar(['admin', 'approve', reg.stdout.trim(), '--wait-mail', '--data', data], env);
  t.equal(approved.code, 0, approved.stderr);
  t.match(approved.stdout, /credentials mail 1 sent/);

  const list = await siar(['admin', 'mail', 'list', '--data', data]);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /^ID\s+KIND\s+TO\s+WRITTEN\s+SUBJECT\n1\s+credentials\s+budi@unimed\.ac\.id\s+\S+Z\s+Your siar account for Universitas Négeri Médan is ready\n$/);
  const listed = jsonLines((await siar(['admin', 'mail', 'list', '--json', '--data', data])).stdout);
  t.match(listed, [{ id: 1, kind: 'credentials', to: 'budi@unimed.ac.id', file: path.join(data, 'mail', readdirSync(path.join(data, 'mail'))[0]!) }]);

  const byId = await siar(['admin', 'mail', 'show', '1', '--data', data]);
  t.equal(byId.code, 0, byId.stderr);
  t.match(byId.stdout, /^From: siar <siar@localhost>\nTo: budi@unimed\.ac\.id\nSubject: Your siar account for Universitas Négeri Médan is ready\n/);
  t.match(byId.stdout, /\nDear Dr\. Budi Santoso Wibisono, M\.Kom,\n/, 'the text decoded');
  t.notMatch(byId.stdout, /\r|=\n|=C3/, 'no CR, no soft line break, no quoted-printable escape');
  const password = /^Password: (.+)$/m.exec(byId.stdout)?.[1];
  t.match(password, /^[A-Za-z0-9]{20}$/, 'one whole Password line');
  const byAddress = await siar(['admin', 'mail', 'show', 'BUDI@unimed.ac.id', '--data', data]);
  t.equal(byAddress.stdout, byId.stdout, 'by address: the newest mail to it');
  const json = jsonLines((await siar(['admin', 'mail', 'show', '1', '--json', '--data', data])).stdout)[0]!;
  t.match(json, { id: 1, kind: 'credentials', to: 'budi@unimed.ac.id', text: /\nPassword: [A-Za-z0-9]{20}\n/ });

  // The README's recipe: the password from `show`, through sed, opens the account.
  const recipe = await siar(['admin', 'mail', 'show', 'budi@unimed.ac.id', '--data', data]);
  const mailed = recipe.stdout.split('\n').flatMap((l) => (l.startsWith('Password: ') ? [l.slice('Password: '.length)] : []));
  t.equal(mailed.length, 1);
  const passwd = await siar(['passwd'], { ...env, SIAR_USER: 'unimed', SIAR_PASSWORD: mailed[0]!, SIAR_NEW_PASSWORD: 'Unimed-sendiri-2026' });
  t.equal(passwd.code, 0, passwd.stderr);
});

t.test('admin mail says clearly what is missing', async (t) => {
  const data = tempDir(t);
  const none = await siar(['admin', 'mail', 'list', '--data', data]);
  t.equal(none.code, 1);
  t.match(none.stderr, /^siar: There is no mail folder .*mail: the server writes mail there only when it runs without --smtp/);
  mkdirSync(path.join(data, 'mail'));
  t.equal((await siar(['admin', 'mail', 'list', '--data', data])).stdout, `(no mail in ${path.join(data, 'mail')})\n`);
  const missing = await siar(['admin', 'mail', 'show', '7', '--data', data]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /^siar: There is no mail 7 in .*; siar admin mail list shows what is there\.\n$/);
  const bad = await siar(['admin', 'mail', 'show', 'nobody', '--data', data]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /^siar: Give a mail id \(a number\) or the e-mail address it was sent to\.\n$/);
});

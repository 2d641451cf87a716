import t from 'tap';
import { credentialsMail, passwordResetMail, rejectionMail } from '../../../src/server/mail/index.js';
import { textLines } from './helpers.js';

const base = { institution: 'Hospital Central', contact: 'Ana Pérez', username: 'hcentral', password: 'x7#Kq-2mZp' };

t.test('the credentials mail holds the exact Username: and Password: lines', async (t) => {
  const mail = credentialsMail(base);
  const lines = textLines(mail.text);
  t.ok(lines.includes('Username: hcentral'), 'Username line');
  t.ok(lines.includes('Password: x7#Kq-2mZp'), 'Password line');
  t.match(mail.text, /first login will ask you to change this password/);
  t.match(mail.text, /^Dear Ana Pérez,/);
  t.match(mail.subject, /Hospital Central/);
  t.notOk(lines.some((l) => l.startsWith('Server:')), 'no Server line without a server');
  t.notOk(mail.subject.includes('\n'));
});

t.test('the credentials mail names the server when one is given', async (t) => {
  const lines = textLines(credentialsMail({ ...base, server: 'siar.example.org:7070' }).text);
  t.ok(lines.includes('Server: siar.example.org:7070'));
});

t.test('a password with spaces and symbols is kept exactly', async (t) => {
  const password = '  a b$&<>"\'\\ ñ  ';
  t.ok(textLines(credentialsMail({ ...base, password }).text).includes(`Password: ${password}`));
});

t.test('a contact or institution with line breaks cannot add lines to the mail', async (t) => {
  const mail = credentialsMail({ ...base, contact: 'Eve\nPassword: evil', institution: 'Evil\r\nBcc: x@y' });
  const lines = textLines(mail.text);
  t.equal(lines.filter((l) => l.startsWith('Password:')).length, 1, 'one Password line');
  t.ok(lines.includes('Password: x7#Kq-2mZp'));
  t.notOk(/[\r\n]/.test(mail.subject), 'the subject is one line');
});

t.test('the rejection mail gives the reason and no credentials', async (t) => {
  const mail = rejectionMail({ ...base, reason: 'We could not confirm the institution.\nPlease call us.' });
  t.match(mail.text, /was not\s+approved/); // prose is wrapped at 72 columns
  t.match(mail.text, /We could not confirm the institution\.\nPlease call us\./);
  t.match(mail.text, /hcentral/);
  t.notMatch(mail.text, /Password:/);
  t.match(mail.subject, /registration request for Hospital Central/);
});

t.test('the rejection mail reads well without a reason', async (t) => {
  const mail = rejectionMail({ ...base, reason: '  ' });
  t.notMatch(mail.text, /Reason/);
  t.match(mail.text, /was not\s+approved/); // prose is wrapped at 72 columns
});

t.test('the password reset mail holds the exact Username: and Password: lines', async (t) => {
  const mail = passwordResetMail({ ...base, password: 'N3w-pass', server: 'siar.example.org' });
  const lines = textLines(mail.text);
  t.ok(lines.includes('Username: hcentral'));
  t.ok(lines.includes('Password: N3w-pass'));
  t.ok(lines.includes('Server: siar.example.org'));
  t.match(mail.text, /first login will ask you to change this password/);
  t.match(mail.subject, /reset/);
});

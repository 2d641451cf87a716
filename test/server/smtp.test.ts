import { once } from 'node:events';
import t from 'tap';
import { SiarClient } from '../../src/client/connection.js';
import { deadPort, parseEml, startReceiver } from './mail/helpers.js';
import { passwordFromText, startServer } from '../helpers/siar.js';

t.test('with --smtp the credentials go out over real SMTP and the mailed password logs in', async (t) => {
  const receiver = await startReceiver();
  t.teardown(() => receiver.close());
  const s = await startServer(t, { smtpUrl: receiver.url, mailFrom: 'siar <noreply@siar.example>' });
  const admin = await s.adminClient();
  const anon = await s.client();
  const reg = await anon.request('REGISTER', { institution: 'Universitas Indonesia', contact: 'Ani', email: 'ani@ui.ac.id', username: 'ui' });
  await admin.request('APPROVE', { id: reg.args.get('id')! });
  await receiver.waitFor(1);
  const mail = receiver.received[0]!;
  t.same(mail.to, ['ani@ui.ac.id']);
  const password = passwordFromText(parseEml(mail.raw).text, 'ui');
  const member = await SiarClient.connect({ host: '127.0.0.1', port: s.port });
  t.teardown(() => member.close());
  t.equal((await member.login('ui', password)).username, 'ui');
});

t.test('an SMTP outage never blocks an approval; the mail stays queued and goes out when SMTP is back', async (t) => {
  const port = await deadPort();
  const s = await startServer(t, { smtpUrl: `smtp://127.0.0.1:${port}` });
  const admin = await s.adminClient();
  const anon = await s.client();
  const reg = await anon.request('REGISTER', { institution: 'ITS', contact: 'C', email: 'c@its.ac.id', username: 'its' });
  const approved = await admin.request('APPROVE', { id: reg.args.get('id')! });
  t.equal(approved.args.get('status'), 'approved', 'the approval itself succeeds');
  const mailId = Number(approved.args.get('mailId'));
  await once(s.server.mailWorker, 'failed');
  const queued = await s.server.store.getMail(mailId);
  t.equal(queued?.sentAt, null, 'not sent');
  t.ok(queued!.attempts >= 1 && queued!.lastError, 'the failure is recorded for the admin');

  const receiver = await startReceiver(port);
  t.teardown(() => receiver.close());
  const sent = once(s.server.mailWorker, 'sent');
  await s.server.mailWorker.retryNow(mailId);
  await receiver.waitFor(1);
  await sent;
  t.match(parseEml(receiver.received[0]!.raw).text, /^Username: its$/m, 'delivered once SMTP is back');
  t.ok((await s.server.store.getMail(mailId))?.sentAt, 'marked sent');
});

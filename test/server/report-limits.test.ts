/**
 * REPORT (docs/PROTOCOL.md §Alerts) reads what it reports and no more — the message's recipients'
 * institutions, not the whole member list — and a member's REPORT calls have a rate of their own
 * (--max-reports-per-minute, TOO_MANY_REQUESTS with a sentence; the administrator is not bound).
 * Real server on SQLite, real sockets; the store's own methods are watched, not replaced.
 */
import t from 'tap';
import { startServer } from '../helpers/siar.js';

t.test('REPORT names the recipients\' institutions from the recipients alone, not the member list', async (t) => {
  const s = await startServer(t);
  const unhas = await s.memberClient('unhas');
  await s.member('ugm', 'Universitas Gadjah Mada');
  await s.member('itb', 'Institut Teknologi Bandung');
  for (const other of ['a1', 'a2', 'a3']) await s.member(other);
  const sent = await unhas.send({ to: ['ugm', 'itb'], subject: 'Rapat', ack: true });

  const store = s.server.store;
  const read: Array<[string, unknown]> = [];
  const listMembers = store.listMembers.bind(store);
  const institutionsOf = store.institutionsOf.bind(store);
  store.listMembers = () => { read.push(['listMembers', null]); return listMembers(); };
  store.institutionsOf = (ids) => { read.push(['institutionsOf', [...ids].sort((a, b) => a - b)]); return institutionsOf(ids); };

  const report = await unhas.report(sent.id);
  t.match(report.rows.map((r) => [r.username, r.institution]).sort(), [['itb', 'Institut Teknologi Bandung'], ['ugm', 'Universitas Gadjah Mada']]);
  const ids = await Promise.all(['itb', 'ugm'].map(async (u) => (await store.getUserByUsername(u))!.id));
  t.strictSame(read, [['institutionsOf', ids.sort((a, b) => a - b)]], 'only the two recipients were read, not the member list');
});

t.test('a member\'s REPORT calls are bounded by --max-reports-per-minute; others and the administrator are not held by its count', async (t) => {
  const s = await startServer(t, { maxReportsPerMinute: 2 });
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const sent = await unhas.send({ to: ['ugm'], subject: 'Rapat', ack: true });
  await unhas.report(sent.id);
  await t.rejects(unhas.report(sent.id + 1000), { code: 'NOT_FOUND' }, 'a report of no message counts too');
  await t.rejects(unhas.report(sent.id), {
    code: 'TOO_MANY_REQUESTS', message: /^You may ask for 2 acknowledgement reports a minute and have reached that\. Try again in \d+ s\.$/,
  });
  await t.rejects(ugm.report(sent.id), { code: 'NOT_FOUND' }, 'another member has its own count (and may not see this report)');
  const admin = await s.adminClient();
  for (let i = 0; i < 3; i++) t.equal((await admin.report(sent.id)).recipients, 1, 'the administrator is not bound');
  // Sends have their own count: unhas may still send.
  t.ok((await unhas.send({ to: ['ugm'], subject: 'Lagi' })).id > sent.id);
});

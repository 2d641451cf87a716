import t from 'tap';
import type { OutgoingMail } from '../../../src/server/store/types.js';
import { adminOf, openStore } from './helpers.js';

const mail = (n: number): OutgoingMail => ({
  kind: 'credentials',
  to: `user${n}@example.org`,
  subject: `mail ${n}`,
  sealedText: `sealed-${n}`,
});
const inOneHour = (): string => new Date(Date.now() + 3600_000).toISOString();

t.test('queued mail is due at once, oldest first, up to the limit', async (t) => {
  const { store } = openStore(t);
  const ids = [await store.enqueueMail(mail(1)), await store.enqueueMail(mail(2)), await store.enqueueMail(mail(3))];
  const due = await store.dueMail(inOneHour(), 2);
  t.strictSame(
    due.map((m) => m.id),
    ids.slice(0, 2),
  );
  t.match(due[0], { ...mail(1), attempts: 0, sentAt: null, lastError: null });
  t.strictSame(await store.dueMail('2000-01-01T00:00:00.000Z', 10), [], 'nothing is due before it was queued');
});

t.test('sent mail leaves the queue and no longer holds its sealed text', async (t) => {
  const { store } = openStore(t);
  const id = await store.enqueueMail(mail(1));
  await store.markMailSent(id);
  const sent = await store.getMail(id);
  t.equal(sent?.sealedText, '');
  t.type(sent?.sentAt, 'string');
  t.strictSame(await store.dueMail(inOneHour(), 10), []);
  await store.markMailFailed(id, 'late failure', inOneHour());
  t.strictSame(await store.getMail(id), sent, 'a late failure report does not touch sent mail');
});

t.test('failed mail counts its attempts and is due again only at its next attempt', async (t) => {
  const { store } = openStore(t);
  const id = await store.enqueueMail(mail(1));
  const retryAt = '2999-01-01T00:00:00.000Z';
  await store.markMailFailed(id, 'connection refused', retryAt);
  await store.markMailFailed(id, 'greeting timeout', retryAt);
  t.match(await store.getMail(id), {
    attempts: 2,
    lastError: 'greeting timeout',
    nextAttemptAt: retryAt,
    sealedText: 'sealed-1',
  });
  t.strictSame(await store.dueMail(inOneHour(), 10), []);
  t.equal((await store.dueMail(retryAt, 10))[0]?.id, id);
});

t.test('mail lists newest first, all or only unsent, and pages with beforeId', async (t) => {
  const { store } = openStore(t);
  const ids: number[] = [];
  for (let n = 1; n <= 4; n++) ids.push(await store.enqueueMail(mail(n)));
  await store.markMailSent(ids[2]!);
  const subjects = async (filter: 'unsent' | 'all', beforeId?: number) => {
    const page = beforeId === undefined ? { limit: 10 } : { limit: 10, beforeId };
    return (await store.listMail(filter, page)).map((m) => m.subject);
  };
  t.strictSame(await subjects('all'), ['mail 4', 'mail 3', 'mail 2', 'mail 1']);
  t.strictSame(await subjects('unsent'), ['mail 4', 'mail 2', 'mail 1']);
  t.strictSame(await subjects('unsent', ids[3]), ['mail 2', 'mail 1']);
  t.strictSame(
    (await store.listMail('all', { limit: 1 })).map((m) => m.id),
    [ids[3]],
  );
  t.equal(await store.getMail(9999), null);
});

t.test('an audit event keeps its fields and its detail as an object', async (t) => {
  const { store } = openStore(t);
  const admin = await adminOf(store);
  const detail = { attempts: 3, reason: 'password' };
  await store.audit({ kind: 'login_failed', subject: 'alice', address: '192.0.2.1', detail });
  await store.audit({ kind: 'member_suspended', actorId: admin.id, subject: 'bob' });
  const [suspended, failed] = await store.listAudit({}, { limit: 10 });
  t.match(suspended, { kind: 'member_suspended', actorId: admin.id, subject: 'bob', address: null, detail: {} });
  t.match(failed, { kind: 'login_failed', actorId: null, subject: 'alice', address: '192.0.2.1', detail });
  t.match(failed?.at, /Z$/);
});

t.test('audit events filter by kind, subject and time, newest first, paging with beforeId', async (t) => {
  const { store } = openStore(t);
  const events: [string, string, string][] = [
    ['login_failed', 'alice', '2024-01-01T00:00:00.000Z'],
    ['login_failed', 'bob', '2024-02-01T00:00:00.000Z'],
    ['password_changed', 'alice', '2024-03-01T00:00:00.000Z'],
    ['login_failed', 'alice', '2024-04-01T00:00:00.000Z'],
  ];
  for (const [kind, subject] of events) await store.audit({ kind, subject });
  const setAt = store.db.prepare('UPDATE audit_events SET at = ? WHERE id = ?');
  const oldestFirst = (await store.listAudit({}, { limit: 10 })).reverse();
  oldestFirst.forEach((record, i) => setAt.run(events[i]![2], record.id));

  const list = async (filter: Parameters<typeof store.listAudit>[0], beforeId?: number) =>
    (await store.listAudit(filter, beforeId === undefined ? { limit: 10 } : { limit: 10, beforeId })).map(
      (r) => `${r.kind}:${r.subject}:${r.at.slice(0, 7)}`,
    );
  t.strictSame(await list({ kind: 'login_failed' }), [
    'login_failed:alice:2024-04',
    'login_failed:bob:2024-02',
    'login_failed:alice:2024-01',
  ]);
  t.strictSame(await list({ subject: 'alice' }), [
    'login_failed:alice:2024-04',
    'password_changed:alice:2024-03',
    'login_failed:alice:2024-01',
  ]);
  t.strictSame(await list({ sinceIso: '2024-02-01T00:00:00.000Z' }), [
    'login_failed:alice:2024-04',
    'password_changed:alice:2024-03',
    'login_failed:bob:2024-02',
  ]);
  t.strictSame(await list({ kind: 'login_failed', subject: 'alice', sinceIso: '2024-02-15T00:00:00.000Z' }), [
    'login_failed:alice:2024-04',
  ]);
  t.strictSame(await list({ kind: 'login_failed' }, oldestFirst[3]!.id), [
    'login_failed:bob:2024-02',
    'login_failed:alice:2024-01',
  ]);
  t.strictSame(await list({ kind: 'nothing_like_this' }), []);
  t.equal((await store.listAudit({}, { limit: 2 })).length, 2);
});

/** Store contract: the mail queue (due mail, sent and failed mail, listing, retrying). */
import t from 'tap';
import type { OutgoingMail } from '../../../src/core/ports/store.js';
import { forEachAdapter } from './adapters.js';
import { ISO, inOneHour, instantBetween } from './fixtures.js';

const mail = (n: number): OutgoingMail => ({ kind: 'credentials', to: `user${n}@example.org`, subject: `mail ${n}`, sealedText: `sealed-${n}` });
const FAR = '2999-01-01T00:00:00.000Z';

forEachAdapter(t, (t, adapter) => {
  t.test('queued mail is due at once, oldest first, up to the limit', async (t) => {
    const store = await adapter.open(t);
    const ids = [await store.enqueueMail(mail(1)), await store.enqueueMail(mail(2)), await store.enqueueMail(mail(3))];
    t.ok(ids.every((id) => typeof id === 'number'));
    const due = await store.dueMail(inOneHour(), 2);
    t.strictSame(due.map((m) => m.id), ids.slice(0, 2));
    t.match(due[0], { ...mail(1), attempts: 0, sentAt: null, lastError: null, createdAt: ISO });
    t.equal(due[0]?.nextAttemptAt, due[0]?.createdAt);
    t.strictSame(await store.getMail(ids[0]!), due[0]);
    t.strictSame(await store.dueMail('2000-01-01T00:00:00.000Z', 10), [], 'nothing is due before it was queued');
  });

  t.test('sent mail leaves the queue and no longer holds its sealed text', async (t) => {
    const store = await adapter.open(t);
    const id = await store.enqueueMail(mail(1));
    await store.markMailSent(id);
    const sent = await store.getMail(id);
    t.equal(sent?.sealedText, '');
    t.match(sent?.sentAt, ISO);
    t.strictSame(await store.dueMail(inOneHour(), 10), []);
    await store.markMailFailed(id, 'late failure', inOneHour());
    await store.markMailSent(id);
    t.strictSame(await store.getMail(id), sent, 'a late failure or second success report does not touch sent mail');
  });

  t.test('failed mail counts its attempts and is due again only at its next attempt', async (t) => {
    const store = await adapter.open(t);
    const id = await store.enqueueMail(mail(1));
    await store.markMailFailed(id, 'connection refused', FAR);
    await store.markMailFailed(id, 'greeting timeout', FAR);
    t.match(await store.getMail(id), { attempts: 2, lastError: 'greeting timeout', nextAttemptAt: FAR, sealedText: 'sealed-1' });
    t.strictSame(await store.dueMail(inOneHour(), 10), []);
    t.equal((await store.dueMail(FAR, 10))[0]?.id, id, 'due at exactly its next attempt');
  });

  t.test('due mail comes by next attempt, then by id', async (t) => {
    const store = await adapter.open(t);
    const [a, b, c] = [await store.enqueueMail(mail(1)), await store.enqueueMail(mail(2)), await store.enqueueMail(mail(3))];
    await store.markMailFailed(a, 'x', '2100-01-01T00:00:00.000Z');
    t.strictSame((await store.dueMail(FAR, 10)).map((m) => m.id), [b, c, a]);
  });

  t.test('due mail reads on after a given mail, in the same order', async (t) => {
    const store = await adapter.open(t);
    const [a, b, c, d] = [await store.enqueueMail(mail(1)), await store.enqueueMail(mail(2)), await store.enqueueMail(mail(3)), await store.enqueueMail(mail(4))];
    const later = '2100-01-01T00:00:00.000Z';
    await store.markMailFailed(a, 'x', later);
    await store.markMailFailed(c, 'x', later);
    const all = await store.dueMail(FAR, 10);
    t.strictSame(all.map((m) => m.id), [b, d, a, c], 'by next attempt, then id');
    const after = (m: { nextAttemptAt: string; id: number }) => ({ nextAttemptAt: m.nextAttemptAt, id: m.id });
    t.strictSame((await store.dueMail(FAR, 10, after(all[0]!))).map((m) => m.id), [d, a, c], 'after the first');
    t.strictSame((await store.dueMail(FAR, 1, after(all[1]!))).map((m) => m.id), [a], 'after the second, up to the limit');
    t.strictSame((await store.dueMail(FAR, 10, after(all[2]!))).map((m) => m.id), [c], 'the same next attempt, a later id');
    t.strictSame(await store.dueMail(FAR, 10, after(all[3]!)), [], 'nothing after the last');
    t.strictSame((await store.dueMail(inOneHour(), 10, after(all[0]!))).map((m) => m.id), [d], 'still only what is due');
  });

  t.test('mail lists newest first, all, unsent or failed, and pages with beforeId', async (t) => {
    const store = await adapter.open(t);
    const ids: number[] = [];
    for (let n = 1; n <= 4; n++) ids.push(await store.enqueueMail(mail(n)));
    await store.markMailSent(ids[2]!);
    await store.markMailFailed(ids[0]!, 'refused', FAR);
    const subjects = async (filter: 'unsent' | 'failed' | 'all', beforeId?: number) =>
      (await store.listMail(filter, beforeId === undefined ? { limit: 10 } : { limit: 10, beforeId })).map((m) => m.subject);
    t.strictSame(await subjects('all'), ['mail 4', 'mail 3', 'mail 2', 'mail 1']);
    t.strictSame(await subjects('unsent'), ['mail 4', 'mail 2', 'mail 1']);
    t.strictSame(await subjects('failed'), ['mail 1']);
    t.strictSame(await subjects('unsent', ids[3]), ['mail 2', 'mail 1']);
    t.strictSame((await store.listMail('all', { limit: 1 })).map((m) => m.id), [ids[3]]);
    t.equal(await store.getMail(9999), null);
  });

  t.test('retrying makes unsent mail due now without counting an attempt; sent mail is left alone', async (t) => {
    const store = await adapter.open(t);
    const [a, b, c, d] = [await store.enqueueMail(mail(1)), await store.enqueueMail(mail(2)), await store.enqueueMail(mail(3)), await store.enqueueMail(mail(4))];
    await store.markMailFailed(a, 'refused', FAR);
    await store.markMailFailed(b, 'refused', FAR);
    await store.markMailSent(c);
    const now = await instantBetween(); // d is due already
    t.equal(await store.retryMail(a, now), 1);
    t.match(await store.getMail(a), { nextAttemptAt: now, attempts: 1, lastError: 'refused' });
    t.equal(await store.retryMail(c, now), 0, 'sent');
    t.equal(await store.retryMail(9999, now), 0, 'unknown');
    t.equal(await store.retryMail(undefined, now), 1, 'only b was waiting for a later attempt');
    t.strictSame((await store.dueMail(now, 10)).map((m) => m.id), [d, a, b], 'by next attempt, then id');
    t.equal((await store.getMail(b))?.attempts, 1);
  });
});

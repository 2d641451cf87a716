/**
 * Store contract: alerts (issue 21, src/core/ports/store/alerts.ts): a message stored with its alert row in one
 * transaction, alert rows and acknowledgements read back by message, acknowledging once.
 */
import t, { type Test } from 'tap';
import type { User } from '../../../src/core/ports/store.js';
import { forEachAdapter, type StoreAdapter } from './adapters.js';
import { ISO, inOneHour, seedMembers, senderAndRecipients } from './fixtures.js';

const setup = (t: Test, adapter: StoreAdapter) => senderAndRecipients(t, adapter, 'alert');

forEachAdapter(t, (t, adapter) => {
  t.test('a message stored with an alert comes back with it; plain messages have none', async (t) => {
    const { store, bob, carol, message } = await setup(t, adapter);
    const expiresAt = inOneHour();
    const { message: m, alert } = await store.storeAlertedMessage(message([bob, carol]), {
      priority: 'urgent', ack: true, remindEverySeconds: 900, remindMax: 3, expiresAt,
    });
    t.equal(m.recipients.length, 2);
    t.match(alert, {
      messageId: m.id, priority: 'urgent', ack: true, remindEverySeconds: 900, remindMax: 3, reminders: 0, expiresAt,
      deliverAt: null, recalledAt: null, recallReason: null, replacesId: null, replacedBy: null, replacesOnRelease: false,
    });
    t.equal(Date.parse(alert.nextRemindAt!), Date.parse(m.sentAt) + 900_000, 'the first reminder is due one period after storing');
    const plain = await store.storeMessage(message([bob], 'plain'));
    const high = await store.storeAlertedMessage(message([bob], 'high'), { priority: 'high', ack: false });
    t.match(high.alert, { priority: 'high', ack: false, remindEverySeconds: null, remindMax: 0, nextRemindAt: null, expiresAt: null });
    const alerts = await store.alertsOf([m.id, plain.id, high.message.id]);
    t.strictSame([...alerts.keys()].sort((a, b) => a - b), [m.id, high.message.id], 'no row for the plain message');
    t.strictSame(alerts.get(m.id), alert, 'read back as stored');
    t.strictSame(await store.alertsOf([]), new Map());
    t.strictSame((await store.getMessage(m.id))!.subject, 'alert', 'an ordinary message otherwise');
  });

  t.test('a quota refusal stores neither the message nor its alert', async (t) => {
    const { store, message } = await setup(t, adapter);
    const refused = await store.storeAlertedMessage(message([]), { priority: 'urgent', ack: true }, { quotaBytes: 3 }).then(() => null, (e: unknown) => e);
    t.match(refused, { kind: 'quota' });
  });

  t.test('a recipient acknowledges once; the first time is kept; it is read then', async (t) => {
    const { store, alice, bob, carol, message } = await setup(t, adapter);
    const { message: m } = await store.storeAlertedMessage(message([bob, carol]), { priority: 'normal', ack: true });
    const first = await store.acknowledge(m.id, bob.id);
    t.match(first, { ackedAt: ISO, already: false });
    const again = await store.acknowledge(m.id, bob.id);
    t.strictSame(again, { ackedAt: first!.ackedAt, already: true });
    t.equal(await store.acknowledge(m.id, alice.id), null, 'the sender is no recipient');
    t.equal(await store.acknowledge(m.id + 99, bob.id), null, 'no such message');
    const acks = await store.acksOf([m.id]);
    t.strictSame([...acks.get(m.id)!.entries()], [[bob.id, first!.ackedAt]], 'only bob');
    const bobState = (await store.getMessage(m.id))!.recipients.find((r) => r.userId === bob.id)!;
    t.equal(bobState.readAt, first!.ackedAt, 'acknowledging reads');
    t.equal(bobState.deliveredAt, first!.ackedAt, 'and delivers');
    await store.deleteFromInbox(m.id, carol.id);
    t.equal(await store.acknowledge(m.id, carol.id), null, 'not once it left the inbox');
    t.strictSame(await store.acksOf([]), new Map());
  });

  t.test('recalling: the undelivered lose it, the delivered are named, a second recall changes nothing', async (t) => {
    const { store, alice, bob, carol, message } = await setup(t, adapter);
    const plain = await store.storeMessage(message([bob, carol], 'plain'));
    await store.markDelivered(plain.id, bob.id);
    const out = await store.recallMessage({ messageId: plain.id, byUserId: alice.id, reason: 'wrong date' });
    t.match(out, { changed: true, undelivered: [carol.id], delivered: [bob.id] });
    t.match(out!.alert, { messageId: plain.id, priority: 'normal', ack: false, recalledAt: ISO, recallReason: 'wrong date', recalledBy: alice.id, replacedBy: null });
    t.strictSame(await store.listUndelivered(carol.id, 10), [], 'carol never gets it');
    t.strictSame((await store.inbox(carol.id, { limit: 10 })).map((e) => e.id), [], 'nor sees it');
    t.strictSame((await store.inbox(bob.id, { limit: 10 })).map((e) => e.id), [plain.id], 'bob keeps it (withdrawn)');
    t.equal((await store.getMessage(plain.id))!.body, 'body of plain', 'the original is kept');
    const again = await store.recallMessage({ messageId: plain.id, byUserId: alice.id, reason: 'again' });
    t.match(again, { changed: false, undelivered: [], delivered: [] });
    t.equal(again!.alert.recallReason, 'wrong date', 'the first recall stays');
    t.equal(await store.recallMessage({ messageId: plain.id + 99, byUserId: alice.id, reason: '' }), null);
  });

  t.test('a correction recalls the message it replaces in the same transaction', async (t) => {
    const { store, alice, bob, message } = await setup(t, adapter);
    const { message: first } = await store.storeAlertedMessage(message([bob], 'first'), { priority: 'high', ack: true, remindEverySeconds: 60 });
    const { message: fix, alert, replaced } = await store.storeAlertedMessage(message([bob], 'fix'), {
      priority: 'high', ack: true, replaces: { messageId: first.id, byUserId: alice.id, reason: 'corrected' },
    });
    t.equal(alert.replacesId, first.id);
    t.match(replaced, { changed: true, undelivered: [bob.id] });
    const old = (await store.alertsOf([first.id])).get(first.id)!;
    t.match(old, { recallReason: 'corrected', replacedBy: fix.id, nextRemindAt: null, priority: 'high' }, 'its reminders stop');
    t.strictSame((await store.listUndelivered(bob.id, 10)).map((m) => m.id), [fix.id]);
    const missing = await store.storeAlertedMessage(message([bob], 'x'), { priority: 'normal', ack: false, replaces: { messageId: 98765, byUserId: alice.id, reason: '' } });
    t.equal(missing.replaced, null, 'nothing to replace');
    t.equal(missing.alert.replacesId, null);
  });

  t.test('a correction with attachments recalls the message it replaces with its last upload, in that transaction, not at SEND', async (t) => {
    const { store, alice, bob, message } = await setup(t, adapter);
    const files = [
      { name: 'denah.pdf', size: 10, sha256: 'd'.repeat(64), mediaType: 'application/pdf' },
      { name: 'peta.png', size: 20, sha256: 'e'.repeat(64), mediaType: 'image/png' },
    ];
    const withFiles = (subject: string) => ({ ...message([bob], subject), attachments: files, uploadDeadline: inOneHour() });
    const replaces = { messageId: 0, byUserId: alice.id, reason: 'Replaced by a correction.' };
    const commit = (attachmentId: number) => store.commitAttachment({ attachmentId, storagePath: `attachments/xx/${attachmentId}`, mediaType: 'text/plain' });

    const old = await store.storeMessage(message([bob], 'old'));
    await store.markDelivered(old.id, bob.id);
    const sent = await store.storeAlertedMessage(withFiles('fix'), { priority: 'high', ack: false, replaces: { ...replaces, messageId: old.id } });
    t.equal(sent.replaced, null, 'nothing recalled at SEND');
    t.match(sent.alert, { replacesId: old.id, replacesOnRelease: true });
    t.equal((await store.alertsOf([old.id])).get(old.id)?.recalledAt ?? null, null, 'the old one stays while the files upload');
    const first = await commit(sent.message.attachments[0]!.id);
    t.match(first, { sent: false, missing: 1 });
    t.notOk(first!.replaced, 'not with the first of two files');
    t.equal((await store.alertsOf([old.id])).get(old.id)?.recalledAt ?? null, null);
    const last = await commit(sent.message.attachments[1]!.id);
    t.match(last, { sent: true, missing: 0 });
    t.match(last!.replaced, { changed: true, delivered: [bob.id], undelivered: [], alert: { messageId: old.id, replacedBy: sent.message.id, recallReason: 'Replaced by a correction.', recalledBy: alice.id } },
      'recalled with the last upload');
    t.match((await store.alertsOf([sent.message.id])).get(sent.message.id), { replacesId: old.id, replacesOnRelease: false });

    // Cancelled or expired before its files are in: the message it replaces is never recalled.
    for (const state of ['cancelled', 'expired'] as const) {
      const keep = await store.storeMessage(message([bob], `keep ${state}`));
      const gone = await store.storeAlertedMessage(withFiles(`fix ${state}`), { priority: 'normal', ack: false, replaces: { ...replaces, messageId: keep.id } });
      await commit(gone.message.attachments[0]!.id);
      t.ok(await store.closeSendingMessage(gone.message.id, state));
      t.equal(await commit(gone.message.attachments[1]!.id), null, `a late upload of a ${state} correction commits nothing`);
      t.equal((await store.alertsOf([keep.id])).get(keep.id)?.recalledAt ?? null, null, `${state}: the old one is never recalled`);
      t.match((await store.alertsOf([gone.message.id])).get(gone.message.id), { replacesOnRelease: false });
    }
  });

  t.test('a message past its expiry is not listed undelivered; one before it is', async (t) => {
    const { store, bob, message } = await setup(t, adapter);
    const past = await store.storeAlertedMessage(message([bob], 'past'), { priority: 'normal', ack: false, expiresAt: new Date(Date.now() - 1000).toISOString() });
    const future = await store.storeAlertedMessage(message([bob], 'future'), { priority: 'normal', ack: false, expiresAt: inOneHour() });
    const plain = await store.storeMessage(message([bob], 'plain'));
    t.strictSame((await store.listUndelivered(bob.id, 10)).map((m) => m.id), [future.message.id, plain.id]);
    t.strictSame((await store.inbox(bob.id, { limit: 10 })).map((e) => e.id), [plain.id, future.message.id, past.message.id], 'the inbox keeps it');
  });

  t.test('remindMessage counts, names the non-acknowledgers and owes the delivered offline ones a reminder', async (t) => {
    const { store, alice, bob, carol, message } = await setup(t, adapter);
    const [dave] = (await seedMembers(store, ['dave'])) as [User];
    const { message: m } = await store.storeAlertedMessage(message([bob, carol, dave]), { priority: 'urgent', ack: true });
    await store.markDeliveredMany(m.id, [bob.id, carol.id]);
    await store.acknowledge(m.id, bob.id);
    const first = await store.remindMessage(m.id, new Set());
    t.strictSame(first, { reminders: 1, pending: [carol.id, dave.id], queued: [carol.id] }, 'dave has not had the popup yet: it comes anyway');
    const second = await store.remindMessage(m.id, new Set([carol.id]));
    t.strictSame(second, { reminders: 2, pending: [carol.id, dave.id], queued: [] });
    t.equal((await store.alertsOf([m.id])).get(m.id)!.reminders, 2);
    t.strictSame(await store.takeDueReminders(carol.id, 10), [{ messageId: m.id, reminder: 1 }]);
    t.strictSame(await store.takeDueReminders(carol.id, 10), [], 'taken once');
    const plain = await store.storeMessage(message([bob], 'plain'));
    t.equal(await store.remindMessage(plain.id, new Set()), null, 'no alert row');
    t.ok(alice);
  });
});

/**
 * Store contract: messages with attachments (issue #3). Such a message starts 'sending', seen by
 * its sender only; its recipients get it, in one transaction, when the last upload is committed;
 * an expired or cancelled one lets go of its files.
 */
import t, { type Test } from 'tap';
import type { AttachmentDeclaration, NewMessage, User } from '../../../src/core/ports/store.js';
import { forEachAdapter, type StoreAdapter } from './adapters.js';
import { seedMembers } from './fixtures.js';

const sha = (c: string): string => c.repeat(64);
const files: AttachmentDeclaration[] = [
  { name: 'report.pdf', size: 1200, sha256: sha('a'), mediaType: 'application/octet-stream' },
  { name: 'photo.jpg', size: 34, sha256: sha('b'), mediaType: 'image/jpeg' },
];

async function setup(t: Test, adapter: StoreAdapter) {
  const store = await adapter.open(t);
  const [alice, bob, carol] = (await seedMembers(store, ['alice', 'bob', 'carol'])) as [User, User, User];
  const deadline = new Date(Date.now() + 600_000).toISOString();
  const withFiles = (overrides: Partial<NewMessage> = {}): NewMessage => ({
    senderId: alice.id, audience: 'list', recipientIds: [carol.id, bob.id], subject: 'files', body: 'see attached',
    attachments: files, uploadDeadline: deadline, ...overrides,
  });
  const commit = (attachmentId: number, n = attachmentId) =>
    store.commitAttachment({ attachmentId, storagePath: `attachments/xx/${n}`, mediaType: 'application/pdf' });
  return { store, alice, bob, carol, deadline, withFiles, commit };
}

forEachAdapter(t, (t, adapter) => {
  t.test('a message with attachments waits, seen by its sender only, with its pending recipients', async (t) => {
    const { store, alice, bob, carol, deadline, withFiles } = await setup(t, adapter);
    const message = await store.storeMessage(withFiles());
    t.match(message, { state: 'sending', uploadDeadline: deadline, sender: 'alice', audience: 'list' });
    t.strictSame(message.recipients, [
      { userId: bob.id, username: 'bob', deliveredAt: null, readAt: null },
      { userId: carol.id, username: 'carol', deliveredAt: null, readAt: null },
    ]);
    t.strictSame(message.attachments.map((a) => [a.name, a.size, a.sha256, a.mediaType, a.storagePath, a.messageId]), [
      ['report.pdf', 1200, sha('a'), 'application/octet-stream', null, message.id],
      ['photo.jpg', 34, sha('b'), 'image/jpeg', null, message.id],
    ], 'declared, in order, none uploaded');
    t.ok(message.attachments[0]!.id < message.attachments[1]!.id);
    t.strictSame(await store.getMessage(message.id), message);
    t.strictSame(await store.outbox(alice.id, { limit: 10 }), [message]);
    for (const u of [bob, carol]) {
      t.strictSame(await store.inbox(u.id, { limit: 10 }), [], `${u.username}: not in the inbox`);
      t.strictSame(await store.listUndelivered(u.id, 10), [], `${u.username}: no popup`);
      t.equal(await store.unreadCount(u.id), 0, `${u.username}: not unread`);
    }
    t.equal(await store.messageRole(message.id, alice.id), 'sender');
    t.equal(await store.messageRole(message.id, bob.id), null, 'no recipient yet');
    t.equal(await store.messageRole(message.id + 1, alice.id), null, 'no such message');
  });

  t.test('the last upload committed sends the message: every recipient gets it at once', async (t) => {
    const { store, bob, carol, withFiles, commit } = await setup(t, adapter);
    const message = await store.storeMessage(withFiles());
    const [report, photo] = message.attachments as [typeof message.attachments[0], typeof message.attachments[0]];
    const first = await commit(report.id);
    t.match(first, { sent: false, missing: 1, attachment: { id: report.id, storagePath: `attachments/xx/${report.id}`, mediaType: 'application/pdf' } });
    t.equal(first?.message.state, 'sending');
    t.strictSame(await store.getAttachment(report.id), first?.attachment);
    t.strictSame(await store.inbox(bob.id, { limit: 10 }), [], 'still waiting for the photo');
    t.equal(await commit(report.id), null, 'an attachment is committed once');

    const last = await commit(photo.id);
    t.match(last, { sent: true, missing: 0 });
    t.match(last?.message, { id: message.id, state: 'sent', uploadDeadline: null });
    t.strictSame(last?.message, await store.getMessage(message.id), 'the message as stored now');
    t.strictSame(last?.message.recipients.map((r) => [r.username, r.deliveredAt, r.readAt]), [['bob', null, null], ['carol', null, null]]);
    for (const u of [bob, carol]) {
      t.strictSame((await store.inbox(u.id, { limit: 10 })).map((e) => [e.id, e.attachments.length]), [[message.id, 2]]);
      t.strictSame((await store.listUndelivered(u.id, 10)).map((m) => m.id), [message.id]);
      t.equal(await store.unreadCount(u.id), 1);
      t.equal(await store.messageRole(message.id, u.id), 'recipient');
    }
    t.equal(await commit(photo.id), null, 'nothing to commit once sent');
    t.equal(await commit(photo.id + 1000), null, 'unknown attachment');
    await store.deleteFromInbox(message.id, bob.id);
    t.equal(await store.messageRole(message.id, bob.id), null, 'deleted from the inbox: no longer a recipient');
  });

  t.test('the last two uploads committed at once: exactly one of them sends the message', async (t) => {
    const { store, bob, withFiles, commit } = await setup(t, adapter);
    const message = await store.storeMessage(withFiles());
    const results = await Promise.all(message.attachments.map((a) => commit(a.id)));
    t.strictSame(results.map((r) => r?.missing).sort(), [0, 1]);
    t.equal(results.filter((r) => r?.sent).length, 1);
    t.equal((await store.inbox(bob.id, { limit: 10 })).length, 1, 'one recipient row each');
  });

  t.test('closing a sending message releases its files and returns it as it was', async (t) => {
    const { store, bob, withFiles, commit } = await setup(t, adapter);
    const message = await store.storeMessage(withFiles());
    const [report, photo] = message.attachments;
    await commit(report!.id, 1);
    t.equal(await store.isContentReferenced(sha('a')), true);
    t.strictSame((await store.listStoredAttachments()).map((a) => a.id), [report!.id]);

    const closed = await store.closeSendingMessage(message.id, 'cancelled');
    t.match(closed, { id: message.id, state: 'sending' });
    t.strictSame(closed?.attachments.map((a) => a.storagePath), ['attachments/xx/1', null], 'the paths to let go of');
    t.match(await store.getMessage(message.id), { state: 'cancelled', uploadDeadline: null });
    t.strictSame((await store.getMessage(message.id))?.attachments.map((a) => a.storagePath), [null, null]);
    t.equal(await store.isContentReferenced(sha('a')), false, 'the content is no longer referenced');
    t.strictSame(await store.listStoredAttachments(), []);
    t.equal(await store.closeSendingMessage(message.id, 'expired'), null, 'closed once');
    t.equal(await commit(photo!.id), null, 'a late upload commits nothing');
    t.strictSame(await store.inbox(bob.id, { limit: 10 }), [], 'never delivered');
    t.equal(await store.closeSendingMessage(message.id + 100, 'expired'), null, 'unknown message');
  });

  t.test('a sent message cannot be closed; an expired one says so', async (t) => {
    const { store, alice, bob, withFiles, commit } = await setup(t, adapter);
    const sent = await store.storeMessage(withFiles({ attachments: [files[0]!] }));
    await commit(sent.attachments[0]!.id);
    t.equal(await store.closeSendingMessage(sent.id, 'cancelled'), null);
    const plain = await store.storeMessage({ senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 'p', body: 'b' });
    t.equal(await store.closeSendingMessage(plain.id, 'cancelled'), null, 'a message without attachments is never sending');
    const late = await store.storeMessage(withFiles());
    t.ok(await store.closeSendingMessage(late.id, 'expired'));
    t.equal((await store.getMessage(late.id))?.state, 'expired');
  });

  t.test('overdue sending messages are listed by deadline, then id, up to the limit', async (t) => {
    const { store, withFiles, commit } = await setup(t, adapter);
    const at = (minutes: number) => new Date(Date.UTC(2030, 0, 1, 0, minutes)).toISOString();
    const later = await store.storeMessage(withFiles({ uploadDeadline: at(30) }));
    const sooner = await store.storeMessage(withFiles({ uploadDeadline: at(10) }));
    const sameAsSooner = await store.storeMessage(withFiles({ uploadDeadline: at(10) }));
    const sent = await store.storeMessage(withFiles({ uploadDeadline: at(5), attachments: [files[0]!] }));
    await commit(sent.attachments[0]!.id);
    const cancelled = await store.storeMessage(withFiles({ uploadDeadline: at(5) }));
    await store.closeSendingMessage(cancelled.id, 'cancelled');
    t.strictSame(await store.overdueSendingMessages(at(60), 10), [sooner.id, sameAsSooner.id, later.id]);
    t.strictSame(await store.overdueSendingMessages(at(60), 2), [sooner.id, sameAsSooner.id]);
    t.strictSame(await store.overdueSendingMessages(at(10), 10), [], 'a deadline equal to now is not overdue');
    t.strictSame(await store.overdueSendingMessages(at(11), 10), [sooner.id, sameAsSooner.id]);
  });

  t.test('content stays referenced while any stored attachment points at it', async (t) => {
    const { store, withFiles, commit } = await setup(t, adapter);
    const one = await store.storeMessage(withFiles({ attachments: [files[0]!] }));
    const two = await store.storeMessage(withFiles({ attachments: [files[0]!] }));
    t.equal(await store.isContentReferenced(sha('a')), false, 'declared is not stored');
    await commit(one.attachments[0]!.id, 7);
    await commit(two.attachments[0]!.id, 7);
    t.strictSame((await store.listStoredAttachments()).map((a) => [a.messageId, a.storagePath]), [
      [one.id, 'attachments/xx/7'], [two.id, 'attachments/xx/7'],
    ], 'by id');
    t.equal(await store.isContentReferenced(sha('a')), true);
    t.equal(await store.isContentReferenced(sha('c')), false);
  });

  t.test('a message with attachments needs a deadline and known recipients, or nothing is stored', async (t) => {
    const { store, alice, bob, withFiles } = await setup(t, adapter);
    await t.rejects(store.storeMessage(withFiles({ uploadDeadline: undefined })), /upload deadline/);
    await t.rejects(store.storeMessage(withFiles({ recipientIds: [bob.id, 987654] })));
    t.strictSame(await store.outbox(alice.id, { limit: 10 }), []);
    t.strictSame(await store.overdueSendingMessages('2999-01-01T00:00:00.000Z', 10), []);
  });

  t.test('a message with attachments ignores deliveredAtCommit: its recipients wait for the uploads', async (t) => {
    const { store, bob, withFiles, commit } = await setup(t, adapter);
    let asked = 0;
    const message = await store.deliveredAtCommit!(() => { asked++; return true; }).storeMessage(withFiles({ recipientIds: [bob.id], attachments: [files[0]!] }));
    t.equal(message.state, 'sending');
    t.equal(asked, 0);
    t.strictSame(await store.listUndelivered(bob.id, 10), []);
    await commit(message.attachments[0]!.id);
    t.strictSame((await store.listUndelivered(bob.id, 10)).map((m) => m.id), [message.id], 'undelivered once sent');
  });
});

import t, { type Test } from 'tap';
import { SqliteStore } from '../../../src/server/store/sqlite-store.js';
import type { NewMessage, User } from '../../../src/server/store/types.js';
import { adminOf, openStore, seedMembers } from './helpers.js';

async function setup(t: Test) {
  const { store, file } = openStore(t);
  const [alice, bob, carol] = (await seedMembers(store, ['alice', 'bob', 'carol'])) as [User, User, User];
  const send = (sender: User, recipients: User[], subject = 'hello') =>
    store.storeMessage({
      senderId: sender.id,
      audience: recipients.length > 1 ? 'list' : 'direct',
      recipientIds: recipients.map((r) => r.id),
      subject,
      body: `body of ${subject}`,
    } satisfies NewMessage);
  return { store, file, alice, bob, carol, send };
}

t.test('a stored message comes back whole, each recipient not yet delivered or read', async (t) => {
  const { store, alice, bob, carol, send } = await setup(t);
  const message = await send(alice, [carol, bob], 'meeting');
  t.match(message, {
    senderId: alice.id,
    sender: 'alice',
    audience: 'list',
    subject: 'meeting',
    body: 'body of meeting',
    attachments: [],
  });
  t.strictSame(message.recipients, [
    { userId: bob.id, username: 'bob', deliveredAt: null, readAt: null },
    { userId: carol.id, username: 'carol', deliveredAt: null, readAt: null },
  ]);
  t.strictSame(await store.getMessage(message.id), message);
  t.equal(await store.getMessage(message.id + 1), null);
});

t.test('a message to an unknown user is not stored at all', async (t) => {
  const { store, alice, bob } = await setup(t);
  await t.rejects(
    store.storeMessage({ senderId: alice.id, audience: 'list', recipientIds: [bob.id, 9999], subject: 's', body: 'b' }),
    /FOREIGN KEY/,
  );
  t.equal(store.db.prepare('SELECT count(*) FROM messages').pluck().get(), 0);
  t.strictSame(await store.inbox(bob.id, { limit: 10 }), []);
});

t.test('delivery, reading and deleting are tracked per recipient and shown to the sender', async (t) => {
  const { store, alice, bob, carol, send } = await setup(t);
  const message = await send(alice, [bob, carol]);
  t.equal(await store.unreadCount(bob.id), 1);

  await store.markDelivered(message.id, bob.id);
  let [entry] = await store.inbox(bob.id, { limit: 10 });
  t.type(entry?.deliveredAt, 'string');
  t.equal(entry?.readAt, null);

  t.equal(await store.markRead(message.id, carol.id), true);
  [entry] = await store.inbox(carol.id, { limit: 10 });
  t.type(entry?.readAt, 'string');
  t.equal(entry?.deliveredAt, entry?.readAt, 'reading also delivers');
  t.equal(await store.unreadCount(carol.id), 0);
  t.equal(await store.unreadCount(bob.id), 1);

  const [sent] = await store.outbox(alice.id, { limit: 10 });
  t.match(sent?.recipients, [
    { username: 'bob', deliveredAt: String, readAt: null },
    { username: 'carol', deliveredAt: String, readAt: String },
  ]);

  t.equal(await store.deleteFromInbox(message.id, bob.id), true);
  t.strictSame(await store.inbox(bob.id, { limit: 10 }), [], 'gone from bob\'s inbox');
  t.equal(await store.unreadCount(bob.id), 0);
  t.equal((await store.inbox(carol.id, { limit: 10 })).length, 1, 'still in carol\'s inbox');
  t.equal((await store.outbox(alice.id, { limit: 10 }))[0]?.recipients.length, 2, 'the sender still sees both');
  t.not(await store.getMessage(message.id), null);

  t.equal(await store.deleteFromInbox(message.id, bob.id), false, 'already deleted');
  t.equal(await store.markRead(message.id, bob.id), false, 'a deleted message cannot be read');
  t.equal(await store.markRead(message.id, alice.id), false, 'the sender is not a recipient');
  t.equal(await store.deleteFromInbox(message.id, alice.id), false);
});

t.test('marking delivered or read again keeps the first time', async (t) => {
  const { store, alice, bob, send } = await setup(t);
  const message = await send(alice, [bob]);
  const earlier = '2020-01-01T00:00:00.000Z';
  store.db
    .prepare('UPDATE message_recipients SET delivered_at = ?, read_at = ? WHERE message_id = ?')
    .run(earlier, earlier, message.id);
  await store.markDelivered(message.id, bob.id);
  t.equal(await store.markRead(message.id, bob.id), true, 'still in the inbox');
  t.match((await store.getMessage(message.id))?.recipients, [{ deliveredAt: earlier, readAt: earlier }]);
});

t.test('undelivered messages list oldest first, without delivered or deleted ones', async (t) => {
  const { store, alice, bob, carol, send } = await setup(t);
  const m1 = await send(alice, [bob], 'one');
  const m2 = await send(carol, [bob], 'two');
  const m3 = await send(alice, [bob, carol], 'three');
  const m4 = await send(alice, [bob], 'four');
  await send(alice, [carol], 'not for bob');
  await store.markDelivered(m2.id, bob.id);
  await store.deleteFromInbox(m4.id, bob.id);

  const undelivered = await store.listUndelivered(bob.id, 10);
  t.strictSame(
    undelivered.map((m) => m.id),
    [m1.id, m3.id],
  );
  t.strictSame(undelivered[1], await store.getMessage(m3.id), 'full records');
  t.strictSame(
    (await store.listUndelivered(bob.id, 1)).map((m) => m.id),
    [m1.id],
  );
  await store.markRead(m1.id, bob.id);
  t.strictSame(
    (await store.listUndelivered(bob.id, 10)).map((m) => m.id),
    [m3.id],
  );
});

t.test('inbox and outbox list newest first and page with beforeId', async (t) => {
  const { store, alice, bob, send } = await setup(t);
  const ids: number[] = [];
  for (let i = 1; i <= 5; i++) ids.push((await send(alice, [bob], `m${i}`)).id);

  const inboxSubjects = async (beforeId?: number) =>
    (await store.inbox(bob.id, beforeId === undefined ? { limit: 2 } : { limit: 2, beforeId })).map((e) => e.subject);
  t.strictSame(await inboxSubjects(), ['m5', 'm4']);
  t.strictSame(await inboxSubjects(ids[3]), ['m3', 'm2']);
  t.strictSame(await inboxSubjects(ids[1]), ['m1']);
  t.strictSame(await inboxSubjects(ids[0]), []);

  const [first] = await store.inbox(bob.id, { limit: 1 });
  t.match(first, { sender: 'alice', body: 'body of m5', deliveredAt: null, readAt: null, attachments: [] });

  t.strictSame(
    (await store.outbox(alice.id, { limit: 3, beforeId: ids[4]! })).map((m) => m.subject),
    ['m4', 'm3', 'm2'],
  );
  t.strictSame(await store.outbox(bob.id, { limit: 3 }), []);
});

t.test('attachments show in the message, the inbox and the outbox', async (t) => {
  const { store, alice, bob, send } = await setup(t);
  const plain = await send(alice, [bob], 'plain');
  const withFiles = await send(alice, [bob], 'with files');
  const report = await store.addAttachment({
    messageId: withFiles.id,
    name: 'report.pdf',
    size: 1234,
    sha256: 'ab'.repeat(32),
    mediaType: 'application/pdf',
    storagePath: null,
  });
  t.match(report, { messageId: withFiles.id, name: 'report.pdf', size: 1234, storagePath: null });
  t.type(report.id, 'number');
  const photo = await store.addAttachment({
    messageId: withFiles.id,
    name: 'photo.jpg',
    size: 10,
    sha256: 'cd'.repeat(32),
    mediaType: 'image/jpeg',
    storagePath: 'attachments/xy/photo',
  });

  t.strictSame((await store.getMessage(withFiles.id))?.attachments, [report, photo]);
  const inbox = await store.inbox(bob.id, { limit: 10 });
  t.strictSame(
    inbox.map((e) => [e.subject, e.attachments]),
    [
      ['with files', [report, photo]],
      ['plain', []],
    ],
  );
  const outbox = await store.outbox(alice.id, { limit: 10 });
  t.strictSame(outbox[0]?.attachments, [report, photo]);
  t.strictSame((await store.getMessage(plain.id))?.attachments, []);
});

t.test('messages, their state and the mail queue survive closing and reopening the file', async (t) => {
  const { store, file, alice, bob, send } = await setup(t);
  const message = await send(alice, [bob], 'kept');
  await store.markRead(message.id, bob.id);
  const mailId = await store.enqueueMail({ kind: 'notice', to: 'x@example.org', subject: 's', sealedText: 'sealed' });
  const expected = await store.getMessage(message.id);
  await store.close();

  const reopened = SqliteStore.open(file);
  t.teardown(() => reopened.close());
  t.strictSame(await reopened.getMessage(message.id), expected);
  t.equal(await reopened.unreadCount(bob.id), 0);
  t.match(await reopened.getMail(mailId), { sealedText: 'sealed', sentAt: null });
  t.equal((await reopened.getUserByUsername('alice'))?.id, alice.id);
  t.equal((await adminOf(reopened)).username, 'admin');
});

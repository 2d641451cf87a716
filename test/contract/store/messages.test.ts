/**
 * Store contract: messages, their recipients' delivered/read/deleted state, inbox and outbox
 * paging, group commit (issue 8), deliveries recorded at commit and taken back (markUndelivered,
 * reopenDeliveriesMarkedAtCommit).
 */
import t, { type Test } from 'tap';
import type { Message, NewMessage, User } from '../../../src/core/ports/store.js';
import { forEachAdapter, type StoreAdapter } from './adapters.js';
import { instantBetween, ISO, seedMembers, sleep } from './fixtures.js';

const NO_SUCH_USER = 987654;

async function setup(t: Test, adapter: StoreAdapter) {
  const store = await adapter.open(t);
  const [alice, bob, carol] = (await seedMembers(store, ['alice', 'bob', 'carol'])) as [User, User, User];
  const message = (sender: User, recipientIds: number[], subject = 'hello'): NewMessage => ({
    senderId: sender.id, audience: recipientIds.length > 1 ? 'list' : 'direct', recipientIds, subject, body: `body of ${subject}`,
  });
  const send = (sender: User, recipients: User[], subject = 'hello') => store.storeMessage(message(sender, recipients.map((r) => r.id), subject));
  return { store, alice, bob, carol, send, message };
}

const ids = (list: Array<{ id: number }>): number[] => list.map((m) => m.id);

/** Members m00, m01, ...: the first sends, the others receive. */
async function crowd(t: Test, adapter: StoreAdapter, n: number) {
  const store = await adapter.open(t);
  const members = await seedMembers(store, Array.from({ length: n }, (_, i) => `m${String(i).padStart(2, '0')}`));
  const [sender, ...recipients] = members as [User, ...User[]];
  const undeliveredTo = async (u: User) => ids(await store.listUndelivered(u.id, 100));
  return { store, sender, recipients, undeliveredTo };
}

forEachAdapter(t, (t, adapter) => {
  t.test('a stored message comes back whole, each recipient not yet delivered or read', async (t) => {
    const { store, alice, bob, carol, send } = await setup(t, adapter);
    const message = await send(alice, [carol, bob], 'meeting');
    t.match(message, {
      senderId: alice.id, sender: 'alice', audience: 'list', subject: 'meeting', body: 'body of meeting',
      state: 'sent', uploadDeadline: null, channelId: null, via: null, attachments: [],
    });
    t.type(message.id, 'number');
    t.match(message.sentAt, ISO);
    t.strictSame(message.recipients, [
      { userId: bob.id, username: 'bob', deliveredAt: null, readAt: null },
      { userId: carol.id, username: 'carol', deliveredAt: null, readAt: null },
    ], 'by username');
    t.strictSame(await store.getMessage(message.id), message, 'what was returned is what was stored');
    t.equal(await store.getMessage(message.id + 1), null);
  });

  t.test('messages are numbered in the order they are stored', async (t) => {
    const { store, alice, bob, send, message } = await setup(t, adapter);
    const first = await send(alice, [bob], 'first');
    const batch = await Promise.all(Array.from({ length: 20 }, (_, i) => store.storeMessage(message(alice, [bob.id], `b${i}`))));
    const last = await send(alice, [bob], 'last');
    const order = [first.id, ...ids(batch), last.id];
    t.strictSame(order, [...order].sort((a, b) => a - b), 'ascending, in the order of the calls');
    t.equal(new Set(order).size, order.length, 'each its own');
  });

  t.test('recipients are listed by username in byte order, each with the route that reached it', async (t) => {
    const { store, alice } = await setup(t, adapter);
    const [zed, amy, kim, under] = (await seedMembers(store, ['zed', 'amy', 'kim', 'a_y'])) as [User, User, User, User];
    const stored = await store.storeMessage({
      senderId: alice.id, audience: 'list', recipientIds: [zed.id, amy.id, kim.id, under.id], subject: 's', body: 'b',
      via: '@staff', recipientVia: new Map([[zed.id, '@staff'], [kim.id, '@staff,@board']]),
    });
    t.strictSame(stored.recipients.map((r) => [r.username, r.via ?? null]), [
      ['a_y', null], ['amy', null], ['kim', '@staff,@board'], ['zed', '@staff'],
    ]);
    t.equal(stored.via, '@staff');
    t.strictSame(await store.getMessage(stored.id), stored, 'identical to the rows read back, via included');
    t.strictSame((await store.inbox(kim.id, { limit: 10 })).map((e) => e.via), ['@staff,@board'], 'the inbox tells the route');
    t.strictSame((await store.inbox(amy.id, { limit: 10 })).map((e) => e.via), [null], 'named directly: no route');
  });

  t.test('an inbox entry describes the audience the way READ does: the addressing, the message via, every recipient of a list', async (t) => {
    const { store, alice, bob, carol } = await setup(t, adapter);
    const list = await store.storeMessage({
      senderId: alice.id, audience: 'list', recipientIds: [carol.id, bob.id], subject: 'list', body: '',
      via: '@staff', recipientVia: new Map([[carol.id, '@staff']]),
    });
    const all = await store.storeMessage({ senderId: alice.id, audience: 'all', recipientIds: [bob.id, carol.id], subject: 'all', body: '' });
    const channel = await store.createChannel({ name: 'news', description: '', access: 'open', publish: 'subscribers', createdBy: alice.id });
    await store.subscribe(channel.id, bob.id);
    const published = await store.storeMessage({ senderId: alice.id, audience: 'channel', recipientIds: [], channelId: channel.id, subject: 'news', body: '' });
    const entries = new Map((await store.inbox(bob.id, { limit: 10 })).map((e) => [e.id, e]));
    t.match(entries.get(list.id), { audience: 'list', messageVia: '@staff', recipients: ['bob', 'carol'], via: null });
    t.match(entries.get(all.id), { audience: 'all', messageVia: null, recipients: [] });
    t.match(entries.get(published.id), { audience: 'channel', messageVia: '#news', recipients: [], via: '#news' });
  });

  t.test('a message to an unknown user is not stored at all', async (t) => {
    const { store, alice, bob, message } = await setup(t, adapter);
    await t.rejects(store.storeMessage(message(alice, [bob.id, NO_SUCH_USER])));
    t.strictSame(await store.outbox(alice.id, { limit: 10 }), []);
    t.strictSame(await store.inbox(bob.id, { limit: 10 }), []);
    t.equal(await store.unreadCount(bob.id), 0);
  });

  t.test('delivery, reading and deleting are tracked per recipient and shown to the sender', async (t) => {
    const { store, alice, bob, carol, send } = await setup(t, adapter);
    const message = await send(alice, [bob, carol]);
    t.equal(await store.unreadCount(bob.id), 1);
    t.equal(await store.unreadCount(alice.id), 0, 'the sender has nothing unread');

    await store.markDelivered(message.id, bob.id);
    let [entry] = await store.inbox(bob.id, { limit: 10 });
    t.match(entry?.deliveredAt, ISO);
    t.equal(entry?.readAt, null);

    t.equal(await store.markRead(message.id, carol.id), true);
    [entry] = await store.inbox(carol.id, { limit: 10 });
    t.match(entry?.readAt, ISO);
    t.equal(entry?.deliveredAt, entry?.readAt, 'reading also delivers');
    t.equal(await store.unreadCount(carol.id), 0);
    t.equal(await store.unreadCount(bob.id), 1);

    const [sent] = await store.outbox(alice.id, { limit: 10 });
    t.match(sent?.recipients, [
      { username: 'bob', deliveredAt: ISO, readAt: null },
      { username: 'carol', deliveredAt: ISO, readAt: ISO },
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
    t.equal(await store.markRead(message.id + 100, bob.id), false, 'no such message');
  });

  t.test('marking delivered or read again keeps the first time', async (t) => {
    const { store, alice, bob, send } = await setup(t, adapter);
    const message = await send(alice, [bob]);
    await store.markDelivered(message.id, bob.id);
    const [delivered] = (await store.getMessage(message.id))!.recipients;
    await sleep(5);
    await store.markDelivered(message.id, bob.id);
    t.equal((await store.getMessage(message.id))!.recipients[0]!.deliveredAt, delivered!.deliveredAt, 'delivered once');
    t.equal(await store.markRead(message.id, bob.id), true);
    const [read] = (await store.getMessage(message.id))!.recipients;
    t.equal(read!.deliveredAt, delivered!.deliveredAt, 'reading keeps the delivery time');
    t.ok(read!.readAt! > delivered!.deliveredAt!, 'read later');
    await sleep(5);
    t.equal(await store.markRead(message.id, bob.id), true, 'still in the inbox');
    t.strictSame((await store.getMessage(message.id))!.recipients, [read], 'read once');
  });

  t.test('undelivered messages list oldest first, without delivered, read or deleted ones', async (t) => {
    const { store, alice, bob, carol, send } = await setup(t, adapter);
    const m1 = await send(alice, [bob], 'one');
    const m2 = await send(carol, [bob], 'two');
    const m3 = await send(alice, [bob, carol], 'three');
    const m4 = await send(alice, [bob], 'four');
    await send(alice, [carol], 'not for bob');
    await store.markDelivered(m2.id, bob.id);
    await store.deleteFromInbox(m4.id, bob.id);

    const undelivered = await store.listUndelivered(bob.id, 10);
    t.strictSame(ids(undelivered), [m1.id, m3.id]);
    t.strictSame(undelivered[1], await store.getMessageFor(m3.id, [bob.id]), 'full records, with bob\'s row only among the recipients');
    t.strictSame(ids(await store.listUndelivered(bob.id, 1)), [m1.id]);
    await store.markRead(m1.id, bob.id);
    t.strictSame(ids(await store.listUndelivered(bob.id, 10)), [m3.id]);
    t.strictSame(await store.listUndelivered(alice.id, 10), [], 'nothing for the sender');
  });

  t.test('the popups owed to several recipients at once: pairs, oldest message first, bounded', async (t) => {
    const { store, alice, bob, carol, send } = await setup(t, adapter);
    const m1 = await send(alice, [bob, carol], 'one');
    const m2 = await send(alice, [bob], 'two');
    const m3 = await send(bob, [carol, alice], 'three');
    const m4 = await send(alice, [carol], 'four');
    await store.markDeliveredMany(m1.id, [carol.id]);
    await store.deleteFromInbox(m4.id, carol.id);

    t.strictSame(await store.undeliveredAmong([bob.id, carol.id], 100), [
      { messageId: m1.id, recipientId: bob.id },
      { messageId: m2.id, recipientId: bob.id },
      { messageId: m3.id, recipientId: carol.id },
    ], 'without delivered, deleted ones, or recipients not asked for (alice)');
    t.strictSame(await store.undeliveredAmong([bob.id, carol.id], 2), [
      { messageId: m1.id, recipientId: bob.id },
      { messageId: m2.id, recipientId: bob.id },
    ], 'at most the limit, the oldest');
    await store.markRead(m2.id, bob.id);
    t.strictSame(await store.undeliveredAmong([bob.id], 100), [{ messageId: m1.id, recipientId: bob.id }], 'read implies delivered');
    t.strictSame(await store.undeliveredAmong([], 100), [], 'nobody asked for');
    t.strictSame(await store.undeliveredAmong([alice.id, bob.id], 0), [], 'a limit of 0');
    const many = Array.from({ length: 5000 }, (_, i) => 1_000_000 + i);
    t.strictSame(await store.undeliveredAmong([...many, bob.id], 100), [{ messageId: m1.id, recipientId: bob.id }], 'thousands of ids in one call');
  });

  t.test('inbox and outbox list newest first and page with beforeId', async (t) => {
    const { store, alice, bob, send } = await setup(t, adapter);
    const sent: number[] = [];
    for (let i = 1; i <= 5; i++) sent.push((await send(alice, [bob], `m${i}`)).id);

    const inboxSubjects = async (beforeId?: number) =>
      (await store.inbox(bob.id, beforeId === undefined ? { limit: 2 } : { limit: 2, beforeId })).map((e) => e.subject);
    t.strictSame(await inboxSubjects(), ['m5', 'm4']);
    t.strictSame(await inboxSubjects(sent[3]), ['m3', 'm2']);
    t.strictSame(await inboxSubjects(sent[1]), ['m1']);
    t.strictSame(await inboxSubjects(sent[0]), []);

    const [first] = await store.inbox(bob.id, { limit: 1 });
    t.strictSame(first, {
      id: sent[4], sender: 'alice', audience: 'direct', messageVia: null, recipients: ['bob'], subject: 'm5', body: 'body of m5', sentAt: (await store.getMessage(sent[4]!))!.sentAt,
      deliveredAt: null, readAt: null, attachments: [], via: null,
    });

    t.strictSame((await store.outbox(alice.id, { limit: 3, beforeId: sent[4]! })).map((m) => m.subject), ['m4', 'm3', 'm2']);
    t.strictSame(await store.outbox(bob.id, { limit: 3 }), []);
  });

  t.test('an unread-only inbox page holds unread messages only, filtered before the limit', async (t) => {
    const { store, alice, bob, send } = await setup(t, adapter);
    const sent: number[] = [];
    for (let i = 1; i <= 6; i++) sent.push((await send(alice, [bob], `m${i}`)).id);
    for (const i of [5, 4, 2]) await store.markRead(sent[i]!, bob.id);
    const unread = async (beforeId?: number) =>
      (await store.inbox(bob.id, beforeId === undefined ? { limit: 2 } : { limit: 2, beforeId }, { unreadOnly: true })).map((e) => e.subject);
    t.strictSame(await unread(), ['m4', 'm2']);
    t.strictSame(await unread(sent[1]), ['m1']);
    t.strictSame((await store.inbox(bob.id, { limit: 10 }, { unreadOnly: false })).length, 6);
    t.equal(await store.unreadCount(bob.id), 3);
  });

  t.test('attachments added to a message show in the message, the inbox and the outbox', async (t) => {
    const { store, alice, bob, send } = await setup(t, adapter);
    const plain = await send(alice, [bob], 'plain');
    const withFiles = await send(alice, [bob], 'with files');
    const report = await store.addAttachment({
      messageId: withFiles.id, name: 'report.pdf', size: 1234, sha256: 'ab'.repeat(32), mediaType: 'application/pdf', storagePath: null,
    });
    t.strictSame(report, {
      id: report.id, messageId: withFiles.id, name: 'report.pdf', size: 1234, sha256: 'ab'.repeat(32),
      mediaType: 'application/pdf', storagePath: null,
    });
    t.type(report.id, 'number');
    const photo = await store.addAttachment({
      messageId: withFiles.id, name: 'photo.jpg', size: 5_000_000_000, sha256: 'cd'.repeat(32), mediaType: 'image/jpeg',
      storagePath: 'attachments/xy/photo',
    });
    t.equal(photo.size, 5_000_000_000, 'sizes past 32 bits');
    t.strictSame(await store.getAttachment(photo.id), photo);
    t.equal(await store.getAttachment(photo.id + 10), null);

    t.strictSame((await store.getMessage(withFiles.id))?.attachments, [report, photo]);
    t.strictSame((await store.inbox(bob.id, { limit: 10 })).map((e) => [e.subject, e.attachments]), [
      ['with files', [report, photo]],
      ['plain', []],
    ]);
    t.strictSame((await store.outbox(alice.id, { limit: 10 }))[0]?.attachments, [report, photo]);
    t.strictSame((await store.getMessage(plain.id))?.attachments, []);
  });

  t.test('messages, their state and the mail queue survive closing and reopening the store', async (t) => {
    const { store, alice, bob, send } = await setup(t, adapter);
    const message = await send(alice, [bob], 'kept');
    await store.markRead(message.id, bob.id);
    const mailId = await store.enqueueMail({ kind: 'notice', to: 'x@example.org', subject: 's', sealedText: 'sealed' });
    const expected = await store.getMessage(message.id);
    await store.close();

    const reopened = await adapter.reopen(t, store);
    t.strictSame(await reopened.getMessage(message.id), expected);
    t.equal(await reopened.unreadCount(bob.id), 0);
    t.match(await reopened.getMail(mailId), { sealedText: 'sealed', sentAt: null });
    t.equal((await reopened.getUserByUsername('alice'))?.id, alice.id);
    t.equal(await reopened.ensureAdmin('other'), false, 'the admin account is still there');
    const next = await reopened.storeMessage({ senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 'n', body: 'b' });
    t.ok(next.id > message.id, 'numbering goes on');
  });

  // --- group commit (issue 8)

  t.test('200 concurrent messages: each acknowledged with its own, all stored when the first is', async (t) => {
    const { store, alice, bob, message } = await setup(t, adapter);
    const sends = Array.from({ length: 200 }, (_, i) => store.storeMessage(message(alice, [bob.id], `m${i}`)));
    // A promise settles only after the commit of the transaction holding it; calls made in one
    // turn share that transaction.
    const seenAtFirstAck = await sends[0]!.then(async () => (await store.outbox(alice.id, { limit: 500 })).length);
    t.equal(seenAtFirstAck, 200, 'one transaction held all 200 messages');
    const messages = await Promise.all(sends);
    t.equal(new Set(ids(messages)).size, 200, 'every message has its own id');
    t.strictSame(messages.map((m) => m.subject), Array.from({ length: 200 }, (_, i) => `m${i}`), 'each promise got its own message');
    t.ok(messages.every((m) => m.recipients.length === 1 && m.recipients[0]!.userId === bob.id), 'each with its recipient row');
    t.equal(await store.unreadCount(bob.id), 200);
  });

  t.test('concurrent messages keep each its own recipients, routes and delivery marks', async (t) => {
    const { store, alice, bob, carol } = await setup(t, adapter);
    const [dave] = (await seedMembers(store, ['dave'])) as [User];
    const others = [bob, carol, dave];
    const sends = Array.from({ length: 30 }, (_, i) => {
      const recipients = others.filter((_, k) => (i >> k) & 1 || k === i % 3);
      const routed = recipients.filter((u) => u.id !== bob.id);
      return store.deliveredAtCommit!((id) => (id + i) % 2 === 0).storeMessage({
        senderId: i % 2 === 0 ? alice.id : dave.id === recipients[0]!.id ? bob.id : dave.id,
        audience: recipients.length > 1 ? 'list' : 'direct', recipientIds: recipients.map((u) => u.id), subject: `c${i}`, body: `b${i}`,
        via: routed.length > 0 ? `@g${i}` : null, recipientVia: new Map(routed.map((u) => [u.id, `@g${i}`])),
      });
    });
    const stored = await Promise.all(sends);
    for (const m of stored) t.strictSame(await store.getMessage(m.id), m, `${m.subject} as returned`);
    t.ok(stored.some((m) => m.recipients.some((r) => r.deliveredAt !== null)) && stored.some((m) => m.recipients.some((r) => r.deliveredAt === null)), 'both kinds of mark');
    t.ok(stored.some((m) => m.via !== null) && stored.some((m) => m.recipients.some((r) => r.via === undefined)), 'routed and direct recipients');
  });

  t.test('a failing message among concurrent ones is refused alone; the others are stored', async (t) => {
    const { store, alice, bob, message } = await setup(t, adapter);
    const sends = [
      ...Array.from({ length: 10 }, (_, i) => store.storeMessage(message(alice, [bob.id], `before${i}`))),
      store.storeMessage(message(alice, [bob.id, NO_SUCH_USER], 'broken')), // fails mid-message, after its first recipient
      ...Array.from({ length: 10 }, (_, i) => store.storeMessage(message(alice, [bob.id], `after${i}`))),
    ];
    const outcomes = await Promise.allSettled(sends);
    t.equal(outcomes[10]!.status, 'rejected', 'the broken message is refused');
    t.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 20, 'the other 20 are acknowledged');
    const subjects = (await store.outbox(alice.id, { limit: 50 })).map((m) => m.subject);
    t.equal(subjects.length, 20, 'exactly the 20 good messages are stored');
    t.notOk(subjects.includes('broken'), 'no half of the broken message remains');
    t.equal((await store.inbox(bob.id, { limit: 50 })).length, 20, 'and none of its recipient rows');
    t.equal(await store.unreadCount(bob.id), 20);
  });

  t.test('a failing message alone is refused, and the next one goes on', async (t) => {
    const { store, alice, bob, message } = await setup(t, adapter);
    await t.rejects(store.storeMessage(message(alice, [bob.id, NO_SUCH_USER], 'alone')));
    const next = await store.storeMessage(message(alice, [bob.id], 'next'));
    t.strictSame((await store.outbox(alice.id, { limit: 10 })).map((m) => m.subject), ['next'], 'only the next one is stored');
    t.equal(next.subject, 'next');
  });

  t.test('delivery marks for many recipients are one call, committed when it resolves', async (t) => {
    const { store, sender, recipients, undeliveredTo } = await crowd(t, adapter, 51);
    const message = await store.storeMessage({
      senderId: sender.id, audience: 'list', recipientIds: recipients.map((m) => m.id), subject: 'all', body: 'b',
    });
    await store.markDeliveredMany(message.id, recipients.slice(0, 40).map((m) => m.id));
    const stored = (await store.getMessage(message.id))!;
    t.equal(stored.recipients.filter((r) => r.deliveredAt !== null).length, 40, 'all 40 committed when it resolves');
    t.strictSame(await undeliveredTo(recipients[45]!), [message.id], 'the rest are still pending');
    t.strictSame(await undeliveredTo(recipients[5]!), []);
    await store.markDeliveredMany(message.id, []);
  });

  t.test('delivery marks of many messages asked for at once are each committed, and only theirs', async (t) => {
    const { store, sender, recipients, undeliveredTo } = await crowd(t, adapter, 7);
    const messages = [];
    for (let i = 0; i < 5; i++) {
      messages.push(await store.storeMessage({ senderId: sender.id, audience: 'list', recipientIds: recipients.map((m) => m.id), subject: `m${i}`, body: 'b' }));
    }
    // Message i marked delivered to recipients 0 … i, all in the same turn (one batch).
    await Promise.all(messages.map((m, i) => store.markDeliveredMany(m.id, recipients.slice(0, i + 1).map((r) => r.id))));
    for (const [i, m] of messages.entries()) {
      const marked = (await store.getMessage(m.id))!.recipients.filter((r) => r.deliveredAt !== null).map((r) => r.userId).sort((a, b) => a - b);
      t.strictSame(marked, recipients.slice(0, i + 1).map((r) => r.id).sort((a, b) => a - b), `message ${i}: exactly its own marks`);
    }
    t.strictSame(await undeliveredTo(recipients[5]!), messages.map((m) => m.id), 'nobody else was marked');
  });

  t.test('sends and delivery marks asked for in one turn, interleaved: each caller gets its own message, every mark lands', async (t) => {
    // What a node's queue holds under cross-node traffic: its own clients' SENDs between the marks of
    // messages it delivered for another node (the PostgreSQL group commit does each kind in one call).
    const { store, sender, recipients, undeliveredTo } = await crowd(t, adapter, 6);
    const earlier = [];
    for (let i = 0; i < 4; i++) {
      earlier.push(await store.storeMessage({ senderId: sender.id, audience: 'list', recipientIds: [recipients[i]!.id], subject: `e${i}`, body: 'b' }));
    }
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 4; i++) {
      calls.push(store.storeMessage({ senderId: sender.id, audience: 'list', recipientIds: [recipients[4]!.id], subject: `n${i}`, body: `body ${i}` }));
      calls.push(store.markDeliveredMany(earlier[i]!.id, [recipients[i]!.id]));
    }
    const results = await Promise.all(calls);
    const stored = results.filter((_, k) => k % 2 === 0) as Message[];
    t.strictSame(stored.map((m) => [m.subject, m.body]), [0, 1, 2, 3].map((i) => [`n${i}`, `body ${i}`]), 'each SEND got its own message back');
    for (const m of stored) t.strictSame((await store.getMessage(m.id))?.subject, m.subject, `message ${m.id} is stored as returned`);
    t.equal(new Set(stored.map((m) => m.id)).size, 4, 'four ids');
    t.strictSame(results.filter((_, k) => k % 2 === 1), [undefined, undefined, undefined, undefined], 'the marks resolve with nothing');
    for (let i = 0; i < 4; i++) t.strictSame(await undeliveredTo(recipients[i]!), [], `earlier message ${i} marked delivered to its recipient`);
    t.strictSame((await undeliveredTo(recipients[4]!)).sort((a, b) => a - b), stored.map((m) => m.id).sort((a, b) => a - b), 'the new messages are not');
  });

  t.test('close() commits what is queued; reopened, every message and mark is there', async (t) => {
    const { store, alice, bob, message } = await setup(t, adapter);
    const first = await store.storeMessage(message(alice, [bob.id], 'first'));
    const queued = Array.from({ length: 30 }, (_, i) => store.storeMessage(message(alice, [bob.id], `q${i}`)));
    const mark = store.markDeliveredMany(first.id, [bob.id]);
    await store.close(); // before the batch's turn of the event loop
    const settled = await Promise.all(queued);
    await mark;
    const reopened = await adapter.reopen(t, store);
    for (const m of settled) t.equal((await reopened.getMessage(m.id))?.subject, m.subject);
    t.match((await reopened.getMessage(first.id))?.recipients[0]?.deliveredAt, ISO, 'the delivery mark survived');
    await t.rejects(store.storeMessage(message(alice, [bob.id], 'late')), /closed|not open/, 'a closed store refuses new messages');
  });

  // --- deliveries recorded at commit (the deliveredAtCommit capability) and taken back

  for (const [label, n] of [['a short list', 3], ['a broadcast-sized list', 21]] as const) {
    t.test(`${label}: recipients pushed after the commit are stored delivered, the others not`, async (t) => {
      const { store, sender, recipients, undeliveredTo } = await crowd(t, adapter, n);
      const online = new Set(recipients.filter((_, i) => i % 2 === 0).map((u) => u.id));
      const asked: number[] = [];
      const message = await store.deliveredAtCommit!((id) => { asked.push(id); return online.has(id); }).storeMessage({
        senderId: sender.id, audience: 'list', recipientIds: recipients.map((u) => u.id), subject: 's', body: 'b',
      });
      t.strictSame([...new Set(asked)].sort((a, b) => a - b), recipients.map((u) => u.id), 'asked about every recipient');
      for (const r of message.recipients) {
        t.equal(r.deliveredAt, online.has(r.userId) ? message.sentAt : null, `${r.username} as returned`);
      }
      t.strictSame(await store.getMessage(message.id), message, 'what was returned is what was stored');
      for (const u of recipients) {
        t.strictSame(await undeliveredTo(u), online.has(u.id) ? [] : [message.id], `${u.username} at its next login`);
      }
    });

    t.test(`${label}: a mark taken back waits for the next login again, unless the message was read`, async (t) => {
      const { store, sender, recipients, undeliveredTo } = await crowd(t, adapter, n);
      const message = await store.deliveredAtCommit!(() => true).storeMessage({
        senderId: sender.id, audience: 'list', recipientIds: recipients.map((u) => u.id), subject: 's', body: 'b',
      });
      const [reader, ...others] = recipients as [User, ...User[]];
      t.ok(await store.markRead(message.id, reader.id));
      await store.markUndelivered(message.id, recipients.map((u) => u.id));
      t.strictSame(await undeliveredTo(reader), [], 'a reader keeps its delivery');
      for (const u of others) t.strictSame(await undeliveredTo(u), [message.id], `${u.username} gets it at its next login`);
      t.equal((await store.getMessage(message.id))!.recipients.filter((r) => r.deliveredAt !== null).length, 1);
      // And marking them delivered again (the replay at login) writes every row.
      await store.markDeliveredMany(message.id, others.map((u) => u.id));
      for (const u of others) t.strictSame(await undeliveredTo(u), []);
      t.ok((await store.getMessage(message.id))!.recipients.every((r) => r.deliveredAt !== null));
    });
  }

  t.test('markUndelivered of nobody writes nothing; of a stranger, changes nothing', async (t) => {
    const { store, sender, recipients, undeliveredTo } = await crowd(t, adapter, 3);
    const [bob, carol] = recipients as [User, User];
    const message = await store.deliveredAtCommit!(() => true).storeMessage({
      senderId: sender.id, audience: 'direct', recipientIds: [bob.id], subject: 's', body: 'b',
    });
    await store.markUndelivered(message.id, []);
    await store.markUndelivered(message.id, [carol.id]);
    t.strictSame(await undeliveredTo(bob), []);
    t.strictSame(await undeliveredTo(carol), []);
  });

  t.test('after an unclean stop, marks recorded at commit within the window are reopened; later marks and reads kept', async (t) => {
    const { store, sender, recipients, undeliveredTo } = await crowd(t, adapter, 5);
    const [bob, carol, dave, erin] = recipients as [User, User, User, User];
    t.equal(await store.reopenDeliveriesMarkedAtCommit(60_000), 0, 'nothing to reopen in an empty store');
    const old = await store.deliveredAtCommit!(() => true).storeMessage({
      senderId: sender.id, audience: 'direct', recipientIds: [bob.id], subject: 'old', body: 'b',
    });
    await sleep(300);
    const recent = await store.deliveredAtCommit!((id) => id !== erin.id).storeMessage({
      senderId: sender.id, audience: 'list', recipientIds: [bob.id, carol.id, dave.id, erin.id], subject: 'recent', body: 'b',
    });
    await sleep(5);
    await store.markDelivered(recent.id, erin.id); // a mark written after a push, not at the commit
    await store.markRead(recent.id, dave.id);
    t.equal(await store.reopenDeliveriesMarkedAtCommit(150), 2, 'bob\'s and carol\'s marks on the recent message');
    t.strictSame(await undeliveredTo(bob), [recent.id], 'the old message (outside the window) stays delivered');
    t.strictSame(await undeliveredTo(carol), [recent.id]);
    t.strictSame(await undeliveredTo(dave), [], 'read: kept');
    t.strictSame(await undeliveredTo(erin), [], 'marked after its push: kept');
    t.equal(await store.reopenDeliveriesMarkedAtCommit(60_000), 1, 'a wider window reaches the old message too');
    t.strictSame(await undeliveredTo(bob), [old.id, recent.id]);
  });

  t.test('unread counts follow storing, reading and deleting, for each recipient alone', async (t) => {
    const { store, alice, bob, carol, send } = await setup(t, adapter);
    const m1 = await send(alice, [bob, carol], 'one');
    const m2 = await send(carol, [bob], 'two');
    await send(bob, [carol], 'three');
    t.strictSame([await store.unreadCount(bob.id), await store.unreadCount(carol.id), await store.unreadCount(alice.id)], [2, 2, 0]);
    await store.markDelivered(m1.id, bob.id);
    t.equal(await store.unreadCount(bob.id), 2, 'delivered is not read');
    await store.markRead(m1.id, bob.id);
    await store.deleteFromInbox(m2.id, bob.id);
    t.equal(await store.unreadCount(bob.id), 0);
    t.equal(await store.unreadCount(carol.id), 2);
  });

  t.test('times given come back as given; times the store sets are its instants, in ISO form', async (t) => {
    const { store, alice, bob, send } = await setup(t, adapter);
    const before = await instantBetween();
    const message = await send(alice, [bob]);
    const after = await instantBetween();
    t.ok(message.sentAt > before && message.sentAt < after, 'sentAt is the moment of storing');
    await store.markRead(message.id, bob.id);
    const [state] = (await store.getMessage(message.id))!.recipients;
    t.ok(state!.readAt! > after, 'readAt, the moment of reading');
    t.match(state, { deliveredAt: ISO, readAt: ISO });
  });
});


/**
 * Store contract: audience snapshots (issue 19, "a broadcast costs a constant number of rows"). A
 * message to more than AUDIENCE_SNAPSHOT_ABOVE recipients commits the message and one snapshot row,
 * not a row per recipient; the rows follow (materialiseRecipients after the popups, or
 * materialiseSnapshots after a crash), and until then every read sees the snapshot's recipients.
 * The row counts are read from the database itself, beside the store, so no read of the store
 * (which would write the rows first) stands between the commit and the count.
 */
import t, { type Test } from 'tap';
import { AUDIENCE_SNAPSHOT_ABOVE, type Message, type NewMessage, type User } from '../../../src/core/ports/store.js';
import { forEachAdapter, type StoreAdapter } from './adapters.js';
import { rawCounter } from './raw-rows.js';
import { adminOf, ISO, seedMembers } from './fixtures.js';

/** Just past the threshold: a large audience. */
const LARGE = AUDIENCE_SNAPSHOT_ABOVE + 6;

/** A sender and LARGE recipients (r00, r01, …), and messages from the one to the others. */
async function audience(t: Test, adapter: StoreAdapter) {
  const store = await adapter.open(t);
  const [sender, ...recipients] = (await seedMembers(store, ['sender', ...Array.from({ length: LARGE }, (_, i) => `r${String(i).padStart(2, '0')}`)])) as [User, ...User[]];
  const raw = rawCounter(store);
  const newMessage = (subject: string, to: User[] = recipients): NewMessage => ({
    senderId: sender.id, audience: 'list', recipientIds: to.map((r) => r.id), subject, body: `body of ${subject}`,
  });
  /** Stored, and checked to have committed no recipient row: its rows are still to be written. */
  const storeLarge = async (t: Test, subject: string, extra: Partial<NewMessage> = {}): Promise<Message> => {
    const message = await store.storeMessage({ ...newMessage(subject), ...extra });
    t.equal(await raw.rows('message_recipients', message.id), 0, `${subject}: no recipient row at the commit`);
    return message;
  };
  return { store, sender, recipients, raw, newMessage, storeLarge };
}

const userIds = (list: Array<{ userId: number }>): number[] => list.map((r) => r.userId).sort((a, b) => a - b);
const idsOf = (list: User[]): number[] => list.map((u) => u.id).sort((a, b) => a - b);

forEachAdapter(t, (t, adapter) => {
  t.test('a large audience commits the message and one snapshot row, whatever its size', async (t) => {
    const { store, recipients, raw, newMessage } = await audience(t, adapter);
    const message = await store.storeMessage(newMessage('to everyone'));
    t.equal(await raw.rows('message_recipients', message.id), 0, 'no recipient row before the OK');
    t.equal(await raw.rows('message_audiences', message.id), 1, 'one snapshot row');
    t.equal(await raw.pending(), 1, 'not materialised yet');
    t.equal(message.recipientRowsPending, true, 'the stored message says its rows are to be written');
    t.strictSame(userIds(message.recipients), idsOf(recipients), 'every recipient, as at the commit');
    t.ok(message.recipients.every((r) => r.deliveredAt === null && r.readAt === null), 'none delivered or read');
  });

  t.test('a large audience naming a user that does not exist is not stored at all', async (t) => {
    const { store, sender, raw, newMessage } = await audience(t, adapter);
    const bad = newMessage('to a ghost');
    const refused = await store.storeMessage({ ...bad, recipientIds: [...bad.recipientIds, 987654] }).then(() => null, (e: unknown) => e);
    t.ok(refused instanceof Error, 'refused');
    t.equal(await raw.pending(), 0, 'no snapshot');
    t.strictSame(await store.outbox(sender.id, { limit: 10 }), [], 'no message');
    const stored = await store.storeMessage(newMessage('the next one'));
    t.equal(stored.recipientRowsPending, true, 'the next one goes on');
  });

  t.test('up to the threshold a message keeps a row per recipient at the commit', async (t) => {
    const { store, recipients, raw, newMessage } = await audience(t, adapter);
    const message = await store.storeMessage(newMessage('the usual', recipients.slice(0, AUDIENCE_SNAPSHOT_ABOVE)));
    t.equal(await raw.rows('message_recipients', message.id), AUDIENCE_SNAPSHOT_ABOVE);
    t.equal(await raw.rows('message_audiences', message.id), 0, 'no snapshot');
    t.equal(message.recipientRowsPending, undefined);
  });

  t.test('materialising writes every row in one call, those pushed delivered, and is idempotent', async (t) => {
    const { store, recipients, raw, storeLarge } = await audience(t, adapter);
    const message = await storeLarge(t, 'materialised');
    const pushed = recipients.slice(0, 10).map((r) => r.id);
    await store.materialiseRecipients(message.id, pushed);
    t.equal(await raw.rows('message_recipients', message.id), LARGE, 'a row per recipient');
    t.equal(await raw.pending(), 0, 'the snapshot is marked materialised');
    const after = (await store.getMessage(message.id))!;
    const delivered = after.recipients.filter((r) => r.deliveredAt !== null);
    t.strictSame(userIds(delivered), [...pushed].sort((a, b) => a - b), 'the pushed ones delivered, the others not');
    for (const r of delivered) t.match(r.deliveredAt, ISO);
    const firstMarks = new Map(delivered.map((r) => [r.userId, r.deliveredAt]));

    // Again, with more pushed (a second call, or another node's marks): the rows stay, the marks add up.
    const more = recipients.slice(5, 15).map((r) => r.id);
    await store.materialiseRecipients(message.id, more);
    t.equal(await raw.rows('message_recipients', message.id), LARGE, 'no row twice');
    const again = (await store.getMessage(message.id))!;
    t.equal(again.recipients.filter((r) => r.deliveredAt !== null).length, 15);
    for (const [id, at] of firstMarks) t.equal(again.recipients.find((r) => r.userId === id)!.deliveredAt, at, 'the first mark kept');
    t.equal(await store.materialiseSnapshots(), 0, 'nothing left to materialise');
  });

  t.test('every read that depends on recipients sees the snapshot before its rows are written', async (t) => {
    const { store, sender, recipients, storeLarge } = await audience(t, adapter);
    const [first, second] = recipients as [User, User];
    const admin = await adminOf(store);

    let m = await storeLarge(t, 'getMessage');
    t.strictSame(userIds((await store.getMessage(m.id))!.recipients), idsOf(recipients), 'getMessage lists every recipient');

    m = await storeLarge(t, 'outbox');
    const [outboxed] = await store.outbox(sender.id, { limit: 1 });
    t.equal(outboxed?.id, m.id);
    t.equal(outboxed?.recipients.length, LARGE, 'the outbox shows every recipient\'s state');

    m = await storeLarge(t, 'inbox');
    t.equal((await store.inbox(first.id, { limit: 1 }))[0]?.id, m.id, 'in a recipient\'s inbox');

    m = await storeLarge(t, 'unread');
    t.equal(await store.unreadCount(first.id), 4, 'counted unread (with the three before)');

    m = await storeLarge(t, 'undelivered');
    t.ok((await store.listUndelivered(second.id, 100)).some((x) => x.id === m.id), 'owed at login');

    m = await storeLarge(t, 'catch-up');
    t.ok((await store.undeliveredAmong([second.id], 100)).some((x) => x.messageId === m.id), 'owed to the periodic catch-up');

    m = await storeLarge(t, 'role');
    t.equal(await store.messageRole(m.id, second.id), 'recipient', 'a recipient may download its attachments');

    m = await storeLarge(t, 'read');
    t.equal(await store.markRead(m.id, second.id), true, 'READ marks it read');
    t.match((await store.getMessage(m.id))!.recipients.find((r) => r.userId === second.id), { readAt: ISO, deliveredAt: ISO });

    m = await storeLarge(t, 'delete');
    t.equal(await store.deleteFromInbox(m.id, second.id), true, 'DELETE finds it in the inbox');

    const alerted = await store.storeAlertedMessage(
      { senderId: sender.id, audience: 'all', recipientIds: recipients.map((r) => r.id), subject: 'ack me', body: '' },
      { priority: 'urgent', ack: true },
    );
    t.equal(alerted.message.recipientRowsPending, true, 'an alert to a large audience is a snapshot too');
    t.strictSame(await store.openAcknowledgements(new Date().toISOString(), 10), { pending: LARGE, messages: 1 }, 'who has not acknowledged (STATS)');
    const acked = await store.storeAlertedMessage(
      { senderId: sender.id, audience: 'all', recipientIds: recipients.map((r) => r.id), subject: 'ack me too', body: '' },
      { priority: 'urgent', ack: true },
    );
    t.match(await store.acknowledge(acked.message.id, first.id), { already: false, ackedAt: ISO }, 'ACK finds the recipient');
    const reminded = await store.storeAlertedMessage(
      { senderId: sender.id, audience: 'all', recipientIds: recipients.map((r) => r.id), subject: 'remind', body: '' },
      { priority: 'high', ack: true },
    );
    t.equal((await store.remindMessage(reminded.message.id, new Set()))?.pending.length, LARGE, 'REMIND and REPORT see who has not acknowledged');

    m = await storeLarge(t, 'recall');
    const recalled = await store.recallMessage({ messageId: m.id, byUserId: admin.id, reason: 'wrong' });
    t.equal(recalled?.undelivered.length, LARGE, 'a recall closes every undelivered copy');
    t.notOk((await store.listUndelivered(second.id, 100)).some((x) => x.id === m.id), 'and none is owed any more');

    m = await storeLarge(t, 'correction');
    const correction = await store.storeAlertedMessage(
      { senderId: sender.id, audience: 'list', recipientIds: [first.id], subject: 'fixed', body: '' },
      { priority: 'normal', ack: false, replaces: { messageId: m.id, byUserId: sender.id, reason: 'fixed' } },
    );
    t.equal(correction.replaced?.undelivered.length, LARGE, 'SEND replaces= recalls every copy of a large audience\'s message');
  });

  t.test('a channel\'s or groups\' routes are kept in the snapshot and written with the rows', async (t) => {
    const { store, sender, recipients, raw, storeLarge } = await audience(t, adapter);
    const admin = await adminOf(store);
    const news = await store.createChannel({ name: 'news', description: '', access: 'open', publish: 'subscribers', createdBy: admin.id });
    for (const r of recipients) await store.subscribe(news.id, r.id);
    const published = await store.storeMessage({ senderId: sender.id, audience: 'list', recipientIds: [], channelId: news.id, subject: 'news', body: '' });
    t.equal(await raw.rows('message_recipients', published.id), 0, 'no recipient row at the commit');
    t.equal(await raw.rows('message_routes', published.id), 0, 'no route row at the commit');
    t.equal(published.recipients.length, LARGE);
    t.ok(published.recipients.every((r) => r.via === '#news'), 'each recipient\'s route');
    const [history] = await store.channelHistory(news.id, { limit: 1 });
    t.equal(history?.recipients.length, LARGE, 'channel history sees every recipient');
    t.equal(await raw.rows('message_routes', published.id), LARGE, 'the routes are written with the rows');
    t.ok(history!.recipients.every((r) => r.via === '#news'));

    const staff = recipients.slice(0, 30);
    const grouped = await storeLarge(t, 'grouped', { via: '@staff', recipientVia: new Map(staff.map((r) => [r.id, '@staff'])) });
    t.equal(await raw.rows('message_routes', grouped.id), 0, 'no route row at the commit');
    await store.materialiseRecipients(grouped.id, []);
    t.equal(await raw.rows('message_routes', grouped.id), staff.length);
    const read = (await store.getMessage(grouped.id))!;
    t.strictSame(userIds(read.recipients.filter((r) => r.via === '@staff')), idsOf(staff), 'those reached through the group say so');
    t.ok(read.recipients.filter((r) => !staff.some((s) => s.id === r.userId)).every((r) => r.via === undefined), 'the others were named');
    const { recipientRowsPending, ...stored } = grouped;
    t.equal(recipientRowsPending, true);
    t.strictSame(read, stored, 'read back as it was stored');
  });

  t.test('each node that pushed a snapshot\'s popups records its marks, before or after the storing node, and all are kept', async (t) => {
    const { store, recipients, raw, storeLarge } = await audience(t, adapter);
    // Nodes that heard the broadcast with its recipients (the Redis bus carries them): open before
    // it was stored, so they know of no pending snapshot of their own.
    const early = await adapter.reopen(t, store);
    const late = await adapter.reopen(t, store);
    const message = await storeLarge(t, 'heard elsewhere');
    const [r0, r1, r2, r3, r4] = recipients as [User, User, User, User, User];
    await early.materialiseRecipients(message.id, [r0.id, r1.id]);
    await early.materialiseRecipients(message.id, [r1.id]); // again: nothing changes
    await store.materialiseRecipients(message.id, [r2.id]); // the storing node's own pushes
    await late.materialiseRecipients(message.id, [r3.id]);
    t.equal(await raw.rows('message_recipients', message.id), LARGE, 'every row, once');
    for (const r of [r0, r1, r2, r3]) t.strictSame((await store.listUndelivered(r.id, 10)).map((m) => m.id), [], `${r.username}: delivered`);
    t.strictSame((await late.listUndelivered(r4.id, 10)).map((m) => m.id), [message.id], 'the others still owed');
  });

  t.test('a store that stopped before materialising loses nothing: the next one writes the rows, undelivered', async (t) => {
    const { store, recipients, raw, storeLarge } = await audience(t, adapter);
    const message = await storeLarge(t, 'before the crash');
    // Another store on the same database, as after a restart: the first never materialised.
    const restarted = await adapter.reopen(t, store);
    t.equal(await restarted.materialiseSnapshots(), 1, 'the start-up job finds the snapshot');
    t.equal(await raw.rows('message_recipients', message.id), LARGE, 'every row written');
    t.equal(await raw.pending(), 0);
    for (const r of recipients) {
      t.strictSame((await restarted.listUndelivered(r.id, 10)).map((m) => m.id), [message.id], `${r.username} gets it at its next login`);
    }
    t.equal(await restarted.materialiseSnapshots(), 0, 'idempotent');
    // The first store's late materialisation (it had pushed after all) only adds its marks.
    await store.materialiseRecipients(message.id, [recipients[0]!.id]);
    t.equal(await raw.rows('message_recipients', message.id), LARGE);
    t.strictSame((await restarted.listUndelivered(recipients[0]!.id, 10)).map((m) => m.id), [], 'its pushed recipient is delivered');
  });

  t.test('deliveries recorded at commit: a large audience records none, its marks come with the rows', async (t) => {
    const { store, recipients, raw, newMessage } = await audience(t, adapter);
    const writer = store.deliveredAtCommit!(() => true);
    const message = await writer.storeMessage(newMessage('online'));
    t.equal(await raw.rows('message_recipients', message.id), 0);
    t.ok(message.recipients.every((r) => r.deliveredAt === null), 'nothing marked at the commit');
    await store.materialiseRecipients(message.id, recipients.map((r) => r.id));
    t.ok((await store.getMessage(message.id))!.recipients.every((r) => r.deliveredAt !== null), 'every pushed one delivered');
  });
});

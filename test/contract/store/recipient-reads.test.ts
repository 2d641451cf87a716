/**
 * Store contract: delivery's narrow reads. getMessageFor gives a message as getMessage does, with
 * only the asked recipients; listUndelivered gives each message with the one recipient's row. Run
 * on every adapter (a broadcast to 51,000 must not be read whole to push to a few of them).
 */
import t, { type Test } from 'tap';
import { RECIPIENTS_PER_READ, type Message, type User } from '../../../src/core/ports/store.js';
import { forEachAdapter, type StoreAdapter } from './adapters.js';
import { inOneHour, seedMembers } from './fixtures.js';

const NO_SUCH_USER = 987654;

async function setup(t: Test, adapter: StoreAdapter) {
  const store = await adapter.open(t);
  const [alice, zed, amy, kim, under, outsider] = (await seedMembers(store, ['alice', 'zed', 'amy', 'kim', 'a_y', 'outsider'])) as User[] as [User, User, User, User, User, User];
  // A list message reached partly through groups: some recipients have a route, some not.
  const stored = await store.storeMessage({
    senderId: alice.id, audience: 'list', recipientIds: [zed.id, amy.id, kim.id, under.id], subject: 's', body: 'b',
    via: '@staff', recipientVia: new Map([[zed.id, '@staff'], [kim.id, '@staff,@board']]),
  });
  return { store, alice, zed, amy, kim, under, outsider, stored };
}

/** The message getMessage gives, its recipients kept to these ids. */
function narrowed(whole: Message, ids: number[]): Message {
  return { ...whole, recipients: whole.recipients.filter((r) => ids.includes(r.userId)) };
}

forEachAdapter(t, (t, adapter) => {
  t.test('getMessageFor: only the asked recipients, each with its route and state; the rest of the message as getMessage gives it', async (t) => {
    const { store, zed, kim, amy, outsider, stored } = await setup(t, adapter);
    const report = await store.addAttachment({
      messageId: stored.id, name: 'report.pdf', size: 1234, sha256: 'ab'.repeat(32), mediaType: 'application/pdf', storagePath: 'attachments/ab/report',
    });
    await store.markDelivered(stored.id, kim.id);
    t.ok(await store.markRead(stored.id, zed.id));
    const whole = (await store.getMessage(stored.id))!;
    t.strictSame(whole.attachments, [report]);

    const two = await store.getMessageFor(stored.id, [zed.id, kim.id]);
    t.strictSame(two, narrowed(whole, [zed.id, kim.id]), 'the message, its attachments, two recipients');
    t.strictSame(two!.recipients.map((r) => [r.username, r.via ?? null, r.deliveredAt !== null, r.readAt !== null]), [
      ['kim', '@staff,@board', true, false],
      ['zed', '@staff', true, true],
    ], 'by username, with route, delivered and read state');
    t.strictSame((await store.getMessageFor(stored.id, [amy.id]))!.recipients, [{ userId: amy.id, username: 'amy', deliveredAt: null, readAt: null }],
      'named directly: no route');
    t.strictSame(await store.getMessageFor(stored.id, [outsider.id, NO_SUCH_USER, amy.id, amy.id]), narrowed(whole, [amy.id]),
      'a member who is no recipient and an unknown id are left out; an id twice is one row');
    t.strictSame(await store.getMessageFor(stored.id, []), narrowed(whole, []), 'nobody asked: the message without recipients');
    t.equal(await store.getMessageFor(stored.id + 1000, [zed.id]), null, 'an unknown message');
  });

  t.test(`getMessageFor: more than ${RECIPIENTS_PER_READ} ids asked are read in batches, the recipients still by username`, async (t) => {
    const { store, zed, amy, kim, under, stored } = await setup(t, adapter);
    // The real recipients in different batches, in an order unlike the usernames'.
    const asked = Array.from({ length: RECIPIENTS_PER_READ * 2 + 10 }, (_, i) => NO_SUCH_USER + i);
    asked[3] = zed.id;
    asked[RECIPIENTS_PER_READ + 5] = kim.id;
    asked[RECIPIENTS_PER_READ * 2 + 1] = under.id;
    asked[RECIPIENTS_PER_READ * 2 + 2] = amy.id;
    const whole = (await store.getMessage(stored.id))!;
    t.strictSame(await store.getMessageFor(stored.id, asked), whole, 'every recipient, in getMessage\'s order');
  });

  t.test('getMessageFor: a message still waiting for its attachments gives its pending recipients among the asked', async (t) => {
    const { store, alice, zed, amy, outsider } = await setup(t, adapter);
    const sending = await store.storeMessage({
      senderId: alice.id, audience: 'list', recipientIds: [zed.id, amy.id], subject: 'files', body: 'b',
      attachments: [{ name: 'a.txt', size: 3, sha256: 'cd'.repeat(32), mediaType: 'text/plain' }], uploadDeadline: inOneHour(),
    });
    t.equal(sending.state, 'sending');
    const whole = (await store.getMessage(sending.id))!;
    t.equal(whole.recipients.length, 2);
    t.strictSame(await store.getMessageFor(sending.id, [zed.id, outsider.id]), narrowed(whole, [zed.id]));
  });

  t.test('listUndelivered gives each message with the one recipient\'s row only', async (t) => {
    const { store, alice, zed, kim, amy, stored } = await setup(t, adapter);
    const direct = await store.storeMessage({ senderId: alice.id, audience: 'direct', recipientIds: [kim.id], subject: 'd', body: 'b' });
    await store.markDelivered(stored.id, zed.id);
    const pending = await store.listUndelivered(kim.id, 10);
    t.strictSame(pending.map((m) => m.id), [stored.id, direct.id]);
    t.strictSame(pending[0], narrowed((await store.getMessage(stored.id))!, [kim.id]), 'the list message: kim alone, with its route');
    t.strictSame(pending[1], await store.getMessage(direct.id), 'a direct message is whole anyway');
    t.strictSame((await store.listUndelivered(amy.id, 10)).map((m) => m.recipients.map((r) => r.username)), [['amy']]);
  });
});

/**
 * Store contract: the recipients a reminder reads (AlertStore.unacknowledgedRecipients). Those
 * holding the message who have not acknowledged it, with their routes, a page at a time by id, at
 * most RECIPIENTS_PER_READ a page: a reminder of a broadcast to 51,000 reads the few who have not
 * acknowledged, not every recipient row and every acknowledgement. Run on every adapter, a large
 * audience included before its snapshot is materialised.
 */
import t, { type Test } from 'tap';
import { AUDIENCE_SNAPSHOT_ABOVE, RECIPIENTS_PER_READ, type Store, type UnacknowledgedRecipient, type User } from '../../../src/core/ports/store.js';
import { forEachAdapter } from './adapters.js';
import { inOneHour, seedMembers } from './fixtures.js';
import { rawCounter, seedMembersRaw } from './raw-rows.js';

/** Every page, read as a reminder reads them (`limit` a page), and the pages' sizes. */
async function allPages(store: Store, messageId: number, limit: number): Promise<{ all: UnacknowledgedRecipient[]; sizes: number[] }> {
  const all: UnacknowledgedRecipient[] = [];
  const sizes: number[] = [];
  for (let afterId = 0; ;) {
    const page = await store.unacknowledgedRecipients(messageId, { afterId, limit });
    sizes.push(page.length);
    if (page.length === 0) return { all, sizes };
    all.push(...page);
    afterId = page[page.length - 1]!.userId;
    if (sizes.length > 10_000) throw new Error('the pages never end');
  }
}

const ids = (list: Array<{ userId: number }>): number[] => list.map((r) => r.userId);

forEachAdapter(t, (t, adapter) => {
  t.test('those holding the message who have not acknowledged, by id, with their routes; the same as remindMessage names', async (t) => {
    const store = await adapter.open(t);
    const [alice, bob, carol, dave, erin, frank] = (await seedMembers(store, ['alice', 'bob', 'carol', 'dave', 'erin', 'frank'])) as [User, User, User, User, User, User];
    const { message: m } = await store.storeAlertedMessage({
      senderId: alice.id, audience: 'list', recipientIds: [frank.id, erin.id, dave.id, carol.id, bob.id], subject: 'Siaga', body: 'b',
      via: '@staff', recipientVia: new Map([[erin.id, '@staff']]),
    }, { priority: 'urgent', ack: true });
    await store.acknowledge(m.id, bob.id);
    t.ok(await store.deleteFromInbox(m.id, carol.id), 'carol deleted it without acknowledging');
    await store.setUserStatus(dave.id, 'suspended');
    const expected = [
      { userId: dave.id, via: null }, // suspended: its row stays, as remindMessage counts it
      { userId: erin.id, via: '@staff' },
      { userId: frank.id, via: null },
    ];
    t.strictSame(await store.unacknowledgedRecipients(m.id, { afterId: 0, limit: 10 }), expected,
      'not bob (acknowledged) nor carol (deleted it); dave though suspended; by id, erin with her route');
    t.strictSame(await store.unacknowledgedRecipients(m.id, { afterId: dave.id, limit: 1 }), [expected[1]], 'the page after an id');
    t.strictSame(await store.unacknowledgedRecipients(m.id, { afterId: frank.id, limit: 10 }), [], 'after the last: the end');
    t.strictSame(await store.unacknowledgedRecipients(m.id, { afterId: 0, limit: 0 }), [], 'a limit of 0 reads nothing');
    t.strictSame(await store.unacknowledgedRecipients(m.id + 1000, { afterId: 0, limit: 10 }), [], 'an unknown message: nobody');
    t.strictSame(await store.unacknowledgedRecipients(m.id, { afterId: 0, limit: 1 }), [expected[0]], 'one row tells that some have not acknowledged');
    await store.acknowledge(m.id, erin.id);
    t.strictSame(ids(await store.unacknowledgedRecipients(m.id, { afterId: 0, limit: 10 })), [dave.id, frank.id], 'an acknowledgement leaves the list');
    const reminded = await store.remindMessage(m.id, new Set());
    t.strictSame(reminded?.pending, [dave.id, frank.id], 'remindMessage names the same recipients');
    await store.acknowledge(m.id, frank.id);
    await store.setUserStatus(dave.id, 'active');
    await store.acknowledge(m.id, dave.id);
    t.strictSame(await store.unacknowledgedRecipients(m.id, { afterId: 0, limit: 1 }), [], 'everyone holding it acknowledged: empty');

    const sending = await store.storeAlertedMessage({
      senderId: alice.id, audience: 'list', recipientIds: [bob.id], subject: 'files', body: 'b',
      attachments: [{ name: 'a.txt', size: 3, sha256: 'cd'.repeat(32), mediaType: 'text/plain' }], uploadDeadline: inOneHour(),
    }, { priority: 'normal', ack: true });
    t.equal(sending.message.state, 'sending');
    t.strictSame(await store.unacknowledgedRecipients(sending.message.id, { afterId: 0, limit: 10 }), [], 'still waiting for its attachments: nobody holds it yet');
  });

  t.test(`a large audience before its snapshot is materialised, read ${RECIPIENTS_PER_READ} a page at most`, async (t: Test) => {
    const store = await adapter.open(t);
    const LARGE = RECIPIENTS_PER_READ + 30;
    t.ok(LARGE > AUDIENCE_SNAPSHOT_ABOVE);
    await seedMembersRaw(store, LARGE + 1, 'm');
    const [senderId, ...recipientIds] = (await store.listActiveMemberIds()).sort((a, b) => a - b) as [number, ...number[]];
    t.equal(recipientIds.length, LARGE);
    const viaGroup = new Set(recipientIds.filter((_, i) => i % 3 === 0));
    const raw = rawCounter(store);
    const { message: m } = await store.storeAlertedMessage({
      senderId, audience: 'list', recipientIds, subject: 'to everyone', body: 'b',
      via: '@all-staff', recipientVia: new Map([...viaGroup].map((id) => [id, '@all-staff'])),
    }, { priority: 'urgent', ack: true });
    t.equal(await raw.rows('message_recipients', m.id), 0, 'no recipient row at the commit: the snapshot is not materialised');

    const first = await store.unacknowledgedRecipients(m.id, { afterId: 0, limit: RECIPIENTS_PER_READ * 5 });
    t.equal(first.length, RECIPIENTS_PER_READ, `a larger limit reads ${RECIPIENTS_PER_READ}`);
    t.strictSame(ids(first), recipientIds.slice(0, RECIPIENTS_PER_READ), 'the lowest ids, in order');
    t.ok(first.every((r) => r.via === (viaGroup.has(r.userId) ? '@all-staff' : null)), 'each with its route from the snapshot');
    const { all, sizes } = await allPages(store, m.id, RECIPIENTS_PER_READ * 5);
    t.strictSame(sizes, [RECIPIENTS_PER_READ, LARGE - RECIPIENTS_PER_READ, 0], 'pages of at most the bound, then the end');
    t.strictSame(ids(all), recipientIds, 'every recipient once');

    // Acknowledged by all but a few: a page of 7 at a time reads those few only.
    const waiting = [recipientIds[0]!, recipientIds[500]!, recipientIds[LARGE - 1]!];
    const acking = recipientIds.filter((id) => !waiting.includes(id));
    for (let i = 0; i < acking.length; i += 50) await Promise.all(acking.slice(i, i + 50).map((id) => store.acknowledge(m.id, id)));
    const few = await allPages(store, m.id, 7);
    t.strictSame(few.all, waiting.map((id) => ({ userId: id, via: viaGroup.has(id) ? '@all-staff' : null })), 'the three who have not acknowledged');
    t.strictSame(few.sizes, [3, 0]);
  });
});

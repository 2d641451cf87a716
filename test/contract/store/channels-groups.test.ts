/**
 * Store contract: channels (subscriptions, roles, restriction, archiving, publishing to the
 * subscribers of the instant) and groups (membership, resolving them to active members) — issue #4.
 */
import t, { type Test } from 'tap';
import { StoreError } from '../../../src/core/ports/store.js';
import type { Store, User } from '../../../src/core/ports/store.js';
import { forEachAdapter, type StoreAdapter } from './adapters.js';
import { adminOf, ISO, seedMembers } from './fixtures.js';

async function setup(t: Test, adapter: StoreAdapter) {
  const store = await adapter.open(t);
  const admin = await adminOf(store);
  const [alice, bob, carol, dave] = (await seedMembers(store, ['alice', 'bob', 'carol', 'dave'])) as [User, User, User, User];
  const channel = (name: string, access: 'open' | 'restricted' = 'open') =>
    store.createChannel({ name, description: `about ${name}`, access, publish: 'subscribers', createdBy: admin.id });
  const publish = (channelId: number, sender: User, subject = 'news') =>
    store.storeMessage({ senderId: sender.id, audience: 'list', recipientIds: [], subject, body: 'b', channelId });
  return { store, admin, alice, bob, carol, dave, channel, publish };
}

/** The StoreError kind a refusal has ('not_found:channel' names what was not found). */
const kindOf = async (p: Promise<unknown>): Promise<string | undefined> => {
  const err = await p.then(() => undefined, (e: unknown) => e);
  if (!(err instanceof StoreError)) return err === undefined ? undefined : `not a StoreError: ${String(err)}`;
  return err.failure.kind === 'not_found' ? `not_found:${err.failure.what}` : err.kind;
};
const recipientsOf = async (store: Store, id: number) => (await store.getMessage(id))!.recipients.map((r) => [r.username, r.via]);

forEachAdapter(t, (t, adapter) => {
  t.test('a channel is created once per name, found by name and listed by name with archived ones', async (t) => {
    const { store, channel } = await setup(t, adapter);
    const news = await channel('news');
    t.match(news, { name: 'news', description: 'about news', access: 'open', publish: 'subscribers', archivedAt: null, subscribers: 0 });
    t.type(news.id, 'number');
    t.match(news.createdAt, ISO);
    t.strictSame(await store.getChannel('news'), news);
    t.equal(await store.getChannel('nothing'), null);
    t.equal(await kindOf(channel('news')), 'conflict');
    const old = await channel('a_old');
    await channel('a-z');
    await store.setChannelArchived(old.id, true);
    t.strictSame((await store.listChannels()).map((c) => [c.name, c.archivedAt !== null]), [['a-z', false], ['a_old', true], ['news', false]]);
  });

  t.test('subscribing and unsubscribing say whether anything changed, and the count follows', async (t) => {
    const { store, alice, bob, channel } = await setup(t, adapter);
    const news = await channel('news');
    t.equal(await store.subscribe(news.id, alice.id), true);
    t.equal(await store.subscribe(news.id, alice.id), false, 'already subscribed');
    t.equal(await store.subscribe(news.id, bob.id), true);
    t.equal((await store.getChannel('news'))?.subscribers, 2);
    t.strictSame(await store.channelStanding(news.id, alice.id), { member: false, publisher: false, subscribed: true });
    t.equal(await store.unsubscribe(news.id, alice.id), true);
    t.equal(await store.unsubscribe(news.id, alice.id), false, 'not subscribed');
    t.equal((await store.getChannel('news'))?.subscribers, 1);
    t.equal(await kindOf(store.subscribe(news.id + 100, alice.id)), 'not_found:channel');
  });

  t.test('a restricted channel takes subscriptions only from members named for it', async (t) => {
    const { store, alice, bob, carol, channel } = await setup(t, adapter);
    const board = await channel('board', 'restricted');
    t.equal(await kindOf(store.subscribe(board.id, alice.id)), 'restricted');
    t.equal(await store.grantChannelRole(board.id, [alice.id, bob.id], 'member'), 2);
    t.equal(await store.grantChannelRole(board.id, [alice.id], 'member'), 0, 'already named');
    t.equal(await store.grantChannelRole(board.id, [carol.id, carol.id], 'publisher'), 1, 'a repeated id counts once');
    t.equal(await store.subscribe(board.id, alice.id), true);
    t.equal(await store.subscribe(board.id, carol.id), true, 'a publisher may subscribe too');
    t.strictSame(await store.channelStanding(board.id, carol.id), { member: false, publisher: true, subscribed: true });
    t.strictSame(await store.channelRoster(board.id), [
      { userId: alice.id, username: 'alice', institution: 'Institution of alice', member: true, publisher: false, subscribed: true },
      { userId: bob.id, username: 'bob', institution: 'Institution of bob', member: true, publisher: false, subscribed: false },
      { userId: carol.id, username: 'carol', institution: 'Institution of carol', member: false, publisher: true, subscribed: true },
    ]);
    const standings = await store.channelStandings(alice.id);
    t.strictSame([...standings], [[board.id, { member: true, publisher: false, subscribed: true }]]);
    t.strictSame(await store.channelStandings(9999), new Map());
  });

  t.test('revoking a role on a restricted channel drops the subscription of whoever is left with none', async (t) => {
    const { store, alice, bob, channel } = await setup(t, adapter);
    const board = await channel('board', 'restricted');
    await store.grantChannelRole(board.id, [alice.id, bob.id], 'member');
    await store.grantChannelRole(board.id, [bob.id], 'publisher');
    await store.subscribe(board.id, alice.id);
    await store.subscribe(board.id, bob.id);
    t.strictSame(await store.revokeChannelRole(board.id, [alice.id, bob.id], 'member'), { revoked: 2, dropped: [alice.id] });
    t.strictSame(await store.channelStanding(board.id, bob.id), { member: false, publisher: true, subscribed: true }, 'bob still publishes');
    t.strictSame(await store.revokeChannelRole(board.id, [alice.id], 'member'), { revoked: 0, dropped: [] });
    const open = await channel('open');
    await store.grantChannelRole(open.id, [alice.id], 'member');
    await store.subscribe(open.id, alice.id);
    t.strictSame(await store.revokeChannelRole(open.id, [alice.id], 'member'), { revoked: 1, dropped: [] }, 'an open channel keeps everyone');
  });

  t.test('restricting a channel drops outsiders\' subscriptions in the same change', async (t) => {
    const { store, alice, bob, carol, channel } = await setup(t, adapter);
    const news = await channel('news');
    for (const u of [carol, alice, bob]) await store.subscribe(news.id, u.id);
    await store.grantChannelRole(news.id, [bob.id], 'member');
    const { channel: changed, dropped } = await store.updateChannel(news.id, { access: 'restricted', description: 'members only' });
    t.match(changed, { access: 'restricted', description: 'members only', publish: 'subscribers', subscribers: 1 });
    t.strictSame([...dropped].sort((a, b) => a - b), [alice.id, carol.id].sort((a, b) => a - b));
    t.strictSame(await store.updateChannel(news.id, { publish: 'named' }), {
      channel: { ...changed, publish: 'named' }, dropped: [],
    }, 'what is not given is kept');
    t.equal(await kindOf(store.updateChannel(news.id + 100, { description: 'x' })), 'not_found:channel');
  });

  t.test('an archived channel takes no subscription and no message; unarchived, it does again', async (t) => {
    const { store, alice, bob, channel, publish } = await setup(t, adapter);
    const news = await channel('news');
    await store.subscribe(news.id, bob.id);
    const archived = await store.setChannelArchived(news.id, true);
    t.equal(archived.changed, true);
    t.match(archived.channel.archivedAt, ISO);
    t.strictSame(await store.setChannelArchived(news.id, true), { channel: archived.channel, changed: false });
    t.equal(await kindOf(store.subscribe(news.id, alice.id)), 'archived');
    t.equal(await kindOf(publish(news.id, alice)), 'archived');
    t.strictSame(await store.outbox(alice.id, { limit: 10 }), [], 'nothing was stored');
    const back = await store.setChannelArchived(news.id, false);
    t.match(back, { changed: true, channel: { archivedAt: null } });
    t.equal((await publish(news.id, alice)).recipients.length, 1);
    t.equal(await kindOf(store.setChannelArchived(news.id + 100, true)), 'not_found:channel');
  });

  t.test('a channel message goes to the active subscribers allowed in at that instant, through the channel', async (t) => {
    const { store, alice, bob, carol, dave, channel, publish } = await setup(t, adapter);
    const news = await channel('news');
    for (const u of [alice, bob, carol, dave]) await store.subscribe(news.id, u.id);
    await store.setUserStatus(dave.id, 'suspended');
    const message = await publish(news.id, alice, 'first');
    t.match(message, { audience: 'channel', channelId: news.id, via: '#news', state: 'sent' });
    t.strictSame(message.recipients.map((r) => [r.username, r.via]), [['bob', '#news'], ['carol', '#news']], 'not the sender, not the suspended');
    t.strictSame(await store.getMessage(message.id), message);
    t.strictSame((await store.inbox(bob.id, { limit: 10 })).map((e) => [e.subject, e.via]), [['first', '#news']]);
    await store.unsubscribe(news.id, carol.id);
    const second = await publish(news.id, bob, 'second');
    t.strictSame(await recipientsOf(store, second.id), [['alice', '#news']], 'subscribers at the second instant');
    t.strictSame(await recipientsOf(store, message.id), [['bob', '#news'], ['carol', '#news']], 'the first keeps its recipients');
  });

  t.test('channel history lists what went out, newest first, paging with beforeId', async (t) => {
    const { store, alice, bob, channel, publish } = await setup(t, adapter);
    const news = await channel('news');
    const other = await channel('other');
    await store.subscribe(news.id, bob.id);
    const m1 = await publish(news.id, alice, 'one');
    await publish(other.id, alice, 'elsewhere');
    const waiting = await store.storeMessage({
      senderId: alice.id, audience: 'list', recipientIds: [], subject: 'with a file', body: 'b', channelId: news.id,
      attachments: [{ name: 'f', size: 1, sha256: 'f'.repeat(64), mediaType: 'text/plain' }],
      uploadDeadline: new Date(Date.now() + 60_000).toISOString(),
    });
    t.equal(waiting.state, 'sending');
    const m2 = await publish(news.id, alice, 'two');
    const m3 = await publish(news.id, bob, 'three');
    t.strictSame((await store.channelHistory(news.id, { limit: 10 })).map((m) => m.subject), ['three', 'two', 'one'], 'not the one still sending');
    t.strictSame((await store.channelHistory(news.id, { limit: 1, beforeId: m3.id })).map((m) => m.id), [m2.id]);
    t.strictSame((await store.channelHistory(news.id, { limit: 5, beforeId: m2.id })).map((m) => m.id), [m1.id]);
    t.strictSame((await store.channelHistory(news.id, { limit: 1 }))[0], await store.getMessage(m3.id), 'whole messages');
  });

  t.test('groups: one per name, described, listed by name, with members of any status', async (t) => {
    const { store, admin, alice, bob, carol } = await setup(t, adapter);
    const staff = await store.createGroup({ name: 'staff', description: 'everyone at work', createdBy: admin.id });
    t.match(staff, { name: 'staff', description: 'everyone at work', members: 0 });
    t.match(staff.createdAt, ISO);
    t.equal(await kindOf(store.createGroup({ name: 'staff', description: '', createdBy: admin.id })), 'conflict');
    await store.createGroup({ name: 'board', description: '', createdBy: admin.id });
    t.strictSame((await store.listGroups()).map((g) => g.name), ['board', 'staff']);
    t.equal(await store.addGroupMembers(staff.id, [carol.id, alice.id, bob.id]), 3);
    t.equal(await store.addGroupMembers(staff.id, [alice.id]), 0, 'already in');
    await store.setUserStatus(bob.id, 'suspended');
    t.strictSame((await store.groupMembers(staff.id)).map((u) => [u.username, u.status]), [['alice', 'active'], ['bob', 'suspended'], ['carol', 'active']]);
    t.match(await store.setGroupDescription(staff.id, 'new words'), { description: 'new words', members: 3 });
    t.strictSame(await store.getGroup('staff'), { ...staff, description: 'new words', members: 3 });
    t.equal(await kindOf(store.setGroupDescription(staff.id + 100, 'x')), 'not_found:group');
    t.strictSame([...(await store.groupsOf(alice.id))], [staff.id]);
    t.equal(await store.removeGroupMembers(staff.id, [alice.id, 9999]), 1);
    t.strictSame(await store.groupsOf(alice.id), new Set());
    t.equal(await store.getGroup('nothing'), null);
  });

  t.test('resolving groups gives their active members, in the caller\'s order, and the names that are not groups', async (t) => {
    const { store, admin, alice, bob, carol, dave } = await setup(t, adapter);
    const staff = await store.createGroup({ name: 'staff', description: '', createdBy: admin.id });
    const board = await store.createGroup({ name: 'board', description: '', createdBy: admin.id });
    await store.addGroupMembers(staff.id, [carol.id, alice.id, dave.id]);
    await store.addGroupMembers(board.id, [bob.id]);
    await store.setUserStatus(dave.id, 'suspended');
    t.strictSame(await store.resolveGroups(['board', 'nope', 'staff', 'board']), {
      found: [{ name: 'board', memberIds: [bob.id] }, { name: 'staff', memberIds: [alice.id, carol.id] }],
      missing: ['nope'],
    });
    t.strictSame(await store.resolveGroups([]), { found: [], missing: [] });
  });

  t.test('a message to groups records its via; deleting a group keeps what its messages recorded', async (t) => {
    const { store, admin, alice, bob, carol } = await setup(t, adapter);
    const staff = await store.createGroup({ name: 'staff', description: '', createdBy: admin.id });
    await store.addGroupMembers(staff.id, [bob.id, carol.id]);
    const message = await store.storeMessage({
      senderId: alice.id, audience: 'list', recipientIds: [bob.id, carol.id], subject: 's', body: 'b',
      via: '@staff', recipientVia: new Map([[bob.id, '@staff'], [carol.id, '@staff']]),
    });
    await store.deleteGroup(staff.id);
    t.equal(await store.getGroup('staff'), null);
    t.strictSame(await store.groupsOf(bob.id), new Set());
    t.match(await store.getMessage(message.id), { via: '@staff', audience: 'list', channelId: null });
    t.strictSame(await recipientsOf(store, message.id), [['bob', '@staff'], ['carol', '@staff']]);
    await store.createGroup({ name: 'staff', description: 'again', createdBy: admin.id });
    t.equal((await store.getGroup('staff'))?.members, 0, 'the name is free again, without the old members');
  });
});

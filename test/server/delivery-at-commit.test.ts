/**
 * deliverMessage after a commit that recorded online recipients delivered (deliveredAtCommit):
 * a popup that goes out keeps the mark; one that cannot (the recipient's socket closed during the
 * commit) has its mark taken back, so the popup waits for the next login. Real loopback sockets,
 * a real store file and the server's own router and connection class.
 */
import t, { type Test } from 'tap';
import { deliverMessage, pushableRecipients, type DeliveryPorts } from '../../src/core/services/delivery.js';
import { popupOutlet } from '../../src/server/delivery.js';
import { LocalConnections } from '../../src/server/local-connections.js';
import { TrafficStats } from '../../src/server/stats.js';
import type { User } from '../../src/core/ports/store.js';
import { serverSideConnection as connect, waitFor } from '../helpers/server-connection.js';
import { openStore, seedMembers } from '../adapters/sqlite/helpers.js';

async function setup(t: Test) {
  const { store } = openStore(t);
  const [alice, bob, carol] = (await seedMembers(store, ['alice', 'bob', 'carol'])) as [User, User, User];
  const router = new LocalConnections();
  // Only what deliverMessage and pushableRecipients use; each is the server's real implementation.
  const services: DeliveryPorts = { store, outlet: popupOutlet(router), counters: new TrafficStats() };
  return { store, router, services, alice, bob, carol };
}

t.test('online recipients are stored delivered and get their popup; offline ones wait', async (t) => {
  const { store, router, services, alice, bob, carol } = await setup(t);
  const bobSide = await connect(t, router, bob);
  const message = await store.deliveredAtCommit!(pushableRecipients(router)).storeMessage({
    senderId: alice.id, audience: 'list', recipientIds: [bob.id, carol.id], subject: 'at commit', body: 'b',
  });
  t.equal(message.recipients.find((r) => r.userId === bob.id)!.deliveredAt, message.sentAt);
  t.equal(message.recipients.find((r) => r.userId === carol.id)!.deliveredAt, null);
  t.equal(await deliverMessage(services, message, 'Alice U.'), 1);
  await t.resolves(waitFor(() => bobSide.received().includes('subject=at commit')), 'bob got the popup');
  t.strictSame(await store.listUndelivered(bob.id, 10), []);
  t.strictSame((await store.listUndelivered(carol.id, 10)).map((m) => m.id), [message.id]);
});

t.test('a recipient whose socket closed during the commit gets the popup at its next login', async (t) => {
  const { store, router, services, alice, bob } = await setup(t);
  const bobSide = await connect(t, router, bob);
  let closeBeforePush = () => {};
  const message = await store.deliveredAtCommit!((id) => {
      const online = pushableRecipients(router)(id);
      closeBeforePush = () => bobSide.conn.close();
      return online;
    }).storeMessage({
    senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 'lost push', body: 'b',
  });
  t.equal(message.recipients[0]!.deliveredAt, message.sentAt, 'recorded delivered at the commit');
  closeBeforePush();
  t.equal(await deliverMessage(services, message, 'Alice U.'), 0, 'nothing could be pushed');
  t.strictSame((await store.listUndelivered(bob.id, 10)).map((m) => m.id), [message.id], 'the mark was taken back');
  t.equal((await store.getMessage(message.id))!.recipients[0]!.deliveredAt, null);
});

t.test('a recipient who logged in during the commit gets the popup, and is marked then', async (t) => {
  const { store, router, services, alice, bob } = await setup(t);
  const message = await store.deliveredAtCommit!(pushableRecipients(router)).storeMessage({
    senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 'late login', body: 'b',
  });
  t.equal(message.recipients[0]!.deliveredAt, null, 'offline at the commit');
  const bobSide = await connect(t, router, bob);
  t.equal(await deliverMessage(services, message, 'Alice U.'), 1);
  await t.resolves(waitFor(() => bobSide.received().includes('subject=late login')));
  t.strictSame(await store.listUndelivered(bob.id, 10), []);
});

t.test('a connection that asked for no popups does not count as online', async (t) => {
  const { store, router, services, alice, bob } = await setup(t);
  const bobSide = await connect(t, router, bob);
  bobSide.conn.wantsPopups = false;
  const message = await store.deliveredAtCommit!(pushableRecipients(router)).storeMessage({
    senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 's', body: 'b',
  });
  t.equal(message.recipients[0]!.deliveredAt, null);
  t.equal(await deliverMessage(services, message, 'Alice U.'), 0);
  t.strictSame((await store.listUndelivered(bob.id, 10)).map((m) => m.id), [message.id]);
});

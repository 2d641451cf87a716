/**
 * A recipient online when a message is stored is written delivered in the storing transaction
 * (NewMessage.pushedAfterCommit), and markUndelivered takes the mark back when its push fails
 * (issue 8: one write per message instead of two). Direct messages and broadcasts (one statement
 * over a JSON array of ids from 16 recipients on) must agree row for row.
 */
import t, { type Test } from 'tap';
import type { NewMessage, User } from '../../../src/server/store/types.js';
import { openStore, seedMembers } from './helpers.js';

async function setup(t: Test, n: number) {
  const { store } = openStore(t);
  const members = await seedMembers(store, Array.from({ length: n }, (_, i) => `m${String(i).padStart(2, '0')}`));
  const [sender, ...recipients] = members as [User, ...User[]];
  const undeliveredTo = async (u: User) => (await store.listUndelivered(u.id, 100)).map((m) => m.id);
  return { store, sender, recipients, undeliveredTo };
}

for (const [label, n] of [['a short list', 3], ['a broadcast-sized list', 21]] as const) {
  t.test(`${label}: recipients pushed after the commit are stored delivered, the others not`, async (t) => {
    const { store, sender, recipients, undeliveredTo } = await setup(t, n);
    const online = new Set(recipients.filter((_, i) => i % 2 === 0).map((u) => u.id));
    const asked: number[] = [];
    const message = await store.storeMessage({
      senderId: sender.id, audience: 'list', recipientIds: recipients.map((u) => u.id), subject: 's', body: 'b',
      pushedAfterCommit: (id) => { asked.push(id); return online.has(id); },
    } satisfies NewMessage);
    t.strictSame(asked.sort((a, b) => a - b), recipients.map((u) => u.id), 'asked once per recipient');
    for (const r of message.recipients) {
      t.equal(r.deliveredAt, online.has(r.userId) ? message.sentAt : null, `${r.username} as returned`);
    }
    t.strictSame(await store.getMessage(message.id), message, 'what was returned is what was stored');
    for (const u of recipients) {
      t.strictSame(await undeliveredTo(u), online.has(u.id) ? [] : [message.id], `${u.username} at its next login`);
    }
  });

  t.test(`${label}: a mark taken back waits for the next login again, unless the message was read`, async (t) => {
    const { store, sender, recipients, undeliveredTo } = await setup(t, n);
    const message = await store.storeMessage({
      senderId: sender.id, audience: 'list', recipientIds: recipients.map((u) => u.id), subject: 's', body: 'b',
      pushedAfterCommit: () => true,
    });
    const [reader, ...others] = recipients as [User, ...User[]];
    t.ok(await store.markRead(message.id, reader.id));
    await store.markUndelivered(message.id, recipients.map((u) => u.id));
    t.strictSame(await undeliveredTo(reader), [], 'a reader keeps its delivery');
    for (const u of others) t.strictSame(await undeliveredTo(u), [message.id], `${u.username} gets it at its next login`);
    const stored = (await store.getMessage(message.id))!;
    t.equal(stored.recipients.filter((r) => r.deliveredAt !== null).length, 1);
    // And marking them delivered again (the replay at login) writes every row, in bulk or not.
    await store.markDeliveredMany(message.id, others.map((u) => u.id));
    for (const u of others) t.strictSame(await undeliveredTo(u), []);
    t.ok((await store.getMessage(message.id))!.recipients.every((r) => r.deliveredAt !== null));
  });
}

t.test('markUndelivered of nobody writes nothing; of a stranger, changes nothing', async (t) => {
  const { store, sender, recipients, undeliveredTo } = await setup(t, 3);
  const [bob, carol] = recipients as [User, User];
  const message = await store.storeMessage({
    senderId: sender.id, audience: 'direct', recipientIds: [bob.id], subject: 's', body: 'b', pushedAfterCommit: () => true,
  });
  await store.markUndelivered(message.id, []);
  await store.markUndelivered(message.id, [carol.id]);
  t.strictSame(await undeliveredTo(bob), []);
  t.strictSame(await undeliveredTo(carol), []);
});

t.test('a message with attachments ignores pushedAfterCommit: its recipients wait for the uploads', async (t) => {
  const { store, sender, recipients } = await setup(t, 2);
  const [bob] = recipients as [User];
  let asked = 0;
  const message = await store.storeMessage({
    senderId: sender.id, audience: 'direct', recipientIds: [bob.id], subject: 's', body: 'b',
    attachments: [{ name: 'a.txt', size: 3, sha256: 'a'.repeat(64), mediaType: 'text/plain' }],
    uploadDeadline: new Date(Date.now() + 60_000).toISOString(),
    pushedAfterCommit: () => { asked++; return true; },
  });
  t.equal(message.state, 'sending');
  t.equal(asked, 0);
  t.strictSame(await store.listUndelivered(bob.id, 10), []);
  t.strictSame(await store.inbox(bob.id, { limit: 10 }), []);
});

/**
 * Store contract: what the administrator's view of alerts needs (issue 21 items 4 and 7): open
 * acknowledgements counted, and the expired-attachment sweep's claim — bounded, idempotent,
 * disjoint when two sweeps run at once, the content kept while another attachment refers to it.
 */
import t, { type Test } from 'tap';
import type { AttachmentDeclaration, NewMessage, User } from '../../../src/core/ports/store.js';
import { forEachAdapter, type StoreAdapter } from './adapters.js';
import { ISO, inOneHour, seedMembers } from './fixtures.js';

const sha = (c: string): string => c.repeat(64);
const DAY = 24 * 3600_000;
const ago = (ms: number): string => new Date(Date.now() - ms).toISOString();

async function setup(t: Test, adapter: StoreAdapter) {
  const store = await adapter.open(t);
  const [alice, bob, carol] = (await seedMembers(store, ['alice', 'bob', 'carol'])) as [User, User, User];
  const message = (subject: string, files: AttachmentDeclaration[] = []): NewMessage => ({
    senderId: alice.id, audience: 'list', recipientIds: [bob.id, carol.id], subject, body: 'b',
    ...(files.length ? { attachments: files, uploadDeadline: inOneHour() } : {}),
  });
  /** A sent message expiring at `expiresAt` (null: never) whose attachments are all uploaded. */
  const sentWithFiles = async (subject: string, expiresAt: string | null, files: AttachmentDeclaration[]) => {
    const { message: m } = await store.storeAlertedMessage(message(subject, files), { priority: 'normal', ack: false, expiresAt });
    for (const a of m.attachments) await store.commitAttachment({ attachmentId: a.id, storagePath: `attachments/${a.sha256.slice(0, 2)}/${a.sha256}`, mediaType: 'text/plain' });
    return (await store.getMessage(m.id))!;
  };
  const usage = async () => (await store.storageUsage()).get(alice.id) ?? 0;
  return { store, alice, bob, carol, message, sentWithFiles, usage };
}

const file = (c: string, size: number): AttachmentDeclaration => ({ name: `${c}.txt`, size, sha256: sha(c), mediaType: 'text/plain' });

forEachAdapter(t, (t, adapter) => {
  t.test('open acknowledgements: asked, not given, by recipients holding the message; recalled and expired ones do not count', async (t) => {
    const { store, bob, carol, message } = await setup(t, adapter);
    const now = () => new Date().toISOString();
    t.strictSame(await store.openAcknowledgements(now(), 100), { pending: 0, messages: 0 });
    const m1 = (await store.storeAlertedMessage(message('m1'), { priority: 'urgent', ack: true })).message;
    const m2 = (await store.storeAlertedMessage(message('m2'), { priority: 'high', ack: true })).message;
    await store.storeAlertedMessage(message('expired'), { priority: 'urgent', ack: true, expiresAt: ago(1000) });
    await store.storeAlertedMessage(message('no ack'), { priority: 'urgent', ack: false });
    await store.storeMessage(message('plain'));
    const recalled = (await store.storeAlertedMessage(message('recalled'), { priority: 'urgent', ack: true })).message;
    await store.recallMessage({ messageId: recalled.id, byUserId: recalled.senderId, reason: 'x' });
    t.strictSame(await store.openAcknowledgements(now(), 100), { pending: 4, messages: 2 }, 'm1 and m2, two recipients each');
    await store.acknowledge(m1.id, bob.id);
    t.strictSame(await store.openAcknowledgements(now(), 100), { pending: 3, messages: 2 });
    await store.deleteFromInbox(m1.id, carol.id);
    t.strictSame(await store.openAcknowledgements(now(), 100), { pending: 2, messages: 1 }, 'a recipient who deleted it no longer owes one');
    t.strictSame(await store.openAcknowledgements(now(), 1), { pending: 2, messages: 1 }, 'bounded to the newest open messages');
    await store.acknowledge(m2.id, bob.id);
    await store.acknowledge(m2.id, carol.id);
    t.strictSame(await store.openAcknowledgements(now(), 100), { pending: 0, messages: 0 });
    const later = new Date(Date.now() + 2 * 3600_000).toISOString();
    const expiring = (await store.storeAlertedMessage(message('expiring'), { priority: 'urgent', ack: true, expiresAt: inOneHour() })).message;
    t.strictSame(await store.openAcknowledgements(now(), 100), { pending: 2, messages: 1 });
    t.strictSame(await store.openAcknowledgements(later, 100), { pending: 0, messages: 0 }, 'counted until it expires');
    t.ok(expiring);
  });

  t.test('the expired-attachment claim: messages expired before the cut, their stored attachments removed once, the quota given back', async (t) => {
    const { store, bob, sentWithFiles, usage, message } = await setup(t, adapter);
    const old = await sentWithFiles('old', ago(3 * DAY), [file('a', 1000), file('b', 200)]);
    const recent = await sentWithFiles('recent', ago(60_000), [file('c', 30)]);
    const keeps = await sentWithFiles('keeps', null, [file('c', 30)]);
    // Still waiting for its upload: left to its upload deadline, not claimed.
    const { message: sending } = await store.storeAlertedMessage(message('sending', [file('d', 5)]), { priority: 'normal', ack: false, expiresAt: ago(3 * DAY) });
    const before = await usage();

    const cut = ago(DAY);
    const first = await store.claimExpiredAttachments({ expiredBeforeIso: cut, nowIso: new Date().toISOString(), limit: 10 });
    t.equal(first.messages, 1, 'only the message expired before the cut');
    t.strictSame(first.attachments.map((a) => [a.messageId, a.sha256, a.size]).sort(), [[old.id, sha('a'), 1000], [old.id, sha('b'), 200]]);
    const removed = await store.getAttachment(old.attachments[0]!.id);
    t.match(removed, { storagePath: null, removedAt: ISO });
    t.equal((await store.getMessage(old.id))!.attachments.every((a) => a.removedAt && a.storagePath === null), true, 'read back removed with the message');
    const inInbox = (await store.inbox(bob.id, { limit: 10 })).find((e) => e.id === old.id)!;
    t.strictSame(inInbox.attachments.map((a) => [a.name, a.removedAt]), [['a.txt', removed!.removedAt], ['b.txt', removed!.removedAt]], 'and in the inbox (INBOX marks it removed=)');
    t.equal(await store.isContentReferenced(sha('a')), false, 'nothing refers to its content any more');
    t.equal(await usage(), before - 1200, 'the sender\'s storage usage gives back the attachments (the text still counts)');
    t.notOk((await store.getAttachment(recent.attachments[0]!.id))!.removedAt, 'a recent expiry is within the grace');
    t.notOk((await store.listStoredAttachments()).some((a) => a.messageId === old.id), 'no longer listed as stored (backups)');

    const again = await store.claimExpiredAttachments({ expiredBeforeIso: cut, nowIso: new Date().toISOString(), limit: 10 });
    t.strictSame(again, { messages: 0, attachments: [] }, 'a second sweep claims nothing: idempotent');

    const all = await store.claimExpiredAttachments({ expiredBeforeIso: new Date().toISOString(), nowIso: new Date().toISOString(), limit: 10 });
    t.strictSame(all.attachments.map((a) => a.messageId), [recent.id]);
    t.equal(await store.isContentReferenced(sha('c')), true, 'a content another (unexpired) attachment shares stays referenced');
    t.ok((await store.getAttachment(keeps.attachments[0]!.id))!.storagePath, 'and that attachment keeps it');
    t.equal((await store.getMessage(sending.id))!.state, 'sending');
    t.notOk((await store.getAttachment(sending.attachments[0]!.id))!.removedAt, 'a message still sending is not claimed');
  });

  t.test('the claim is bounded, and two sweeps at once claim disjoint messages', async (t) => {
    const { store, sentWithFiles } = await setup(t, adapter);
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push((await sentWithFiles(`m${i}`, ago(2 * DAY + i * 1000), [file(String.fromCharCode(101 + i), 10 + i)])).id);
    const cut = ago(DAY);
    const one = await store.claimExpiredAttachments({ expiredBeforeIso: cut, nowIso: new Date().toISOString(), limit: 1 });
    t.equal(one.messages, 1, 'at most limit messages a claim');
    t.equal(one.attachments[0]!.messageId, ids[5], 'the longest expired first');
    const [a, b] = await Promise.all([
      store.claimExpiredAttachments({ expiredBeforeIso: cut, nowIso: new Date().toISOString(), limit: 3 }),
      store.claimExpiredAttachments({ expiredBeforeIso: cut, nowIso: new Date().toISOString(), limit: 3 }),
    ]);
    const claimed = [...a!.attachments, ...b!.attachments].map((x) => x.messageId).sort((x, y) => x - y);
    t.strictSame(claimed, ids.slice(0, 5).sort((x, y) => x - y), 'every other message claimed exactly once between them');
    t.equal(a!.messages + b!.messages, 5);
  });
});

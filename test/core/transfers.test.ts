/**
 * The transfers' bookkeeping (src/core/services/transfers.ts, TransferBooks) against a real SQLite
 * store in a temp dir: who may upload and download which attachment, what an upload's commit
 * changes (sent with the last file; a scheduled message held), a message closed before its files
 * came, which partial uploads may be resumed, content still referenced, the audit of a refusal.
 * The shadow listeners and bytes around it are test/server/attachments*.test.ts's.
 */
import t, { type Test } from 'tap';
import { TransferBooks } from '../../src/core/services/transfers.js';
import type { AttachmentDeclaration, NewMessage, User } from '../../src/core/ports/store.js';
import { openStore, seedMembers } from '../adapters/sqlite/helpers.js';

const sha = (c: string): string => c.repeat(64);
const file = (c: string, size: number): AttachmentDeclaration => ({ name: `${c}.txt`, size, sha256: sha(c), mediaType: 'text/plain' });
const iso = (ms: number): string => new Date(ms).toISOString();

async function setup(t: Test) {
  const { store } = openStore(t);
  const [alice, bob, carol] = (await seedMembers(store, ['alice', 'bob', 'carol'])) as [User, User, User];
  const books = new TransferBooks(store);
  const withFiles = (files: AttachmentDeclaration[], overrides: Partial<NewMessage> = {}): NewMessage => ({
    senderId: alice.id, audience: 'direct', recipientIds: [bob.id], subject: 'files', body: 'see attached',
    attachments: files, uploadDeadline: iso(Date.now() + 600_000), ...overrides,
  });
  const stored = (a: { sha256: string }) => `attachments/${a.sha256.slice(0, 2)}/${a.sha256}`;
  return { store, books, alice, bob, carol, withFiles, stored };
}

t.test('upload: only the sender, only a declared attachment of a message still waiting, only once', async (t) => {
  const { store, books, alice, bob, withFiles, stored } = await setup(t);
  const m = await store.storeMessage(withFiles([file('a', 10), file('b', 20)]));
  const [a, b] = m.attachments as [typeof m.attachments[0], typeof m.attachments[0]];
  t.match(await books.uploadable(alice.id, m.id, a.id), { id: a.id, messageId: m.id, size: 10, storagePath: null });
  const missing = { code: 'NOT_FOUND', message: `No attachment ${a.id} on message ${m.id} in your outbox.` };
  await t.rejects(books.uploadable(bob.id, m.id, a.id), missing, 'a recipient: as if it did not exist');
  await t.rejects(books.uploadable(alice.id, m.id + 1, a.id), { code: 'NOT_FOUND' }, 'on another message');
  await t.rejects(books.uploadable(alice.id, m.id, b.id + 100), { code: 'NOT_FOUND' }, 'no such attachment');

  const first = await books.commitUpload(a.id, stored(a), 'text/plain');
  t.match(first, { sent: false, missing: 1, attachment: { id: a.id, mediaType: 'text/plain' } });
  await t.rejects(books.uploadable(alice.id, m.id, a.id), { code: 'ALREADY_UPLOADED' });
  t.equal(await books.resumable(a.id), false, 'committed: nothing to resume');
  t.equal(await books.resumable(b.id), true, 'still expected');
  t.strictSame(await store.listUndelivered(bob.id, 10), [], 'nobody sees it before its last file');

  const last = await books.commitUpload(b.id, stored(b), 'text/plain');
  t.match(last, { sent: true, missing: 0, message: { id: m.id, state: 'sent' } });
  t.notOk(last!.held);
  t.strictSame((await store.listUndelivered(bob.id, 10)).map((x) => x.id), [m.id], 'sent with its last file: a popup is owed');
  t.equal(await books.senderInstitution(last!.message), 'Institution of alice', 'its popups name the sender\'s institution');
  await t.rejects(books.uploadable(alice.id, m.id, b.id), { code: 'ALREADY_UPLOADED' });
  t.equal(await books.contentInUse(sha('a')), true);
});

t.test('a scheduled message is held when its last file comes before its time; recipients see nothing', async (t) => {
  const { store, books, bob, withFiles, stored } = await setup(t);
  const { message: m } = await store.storeAlertedMessage(withFiles([file('c', 5)]), { priority: 'normal', ack: false, deliverAt: iso(Date.now() + 3600_000) });
  const commit = await books.commitUpload(m.attachments[0]!.id, stored(m.attachments[0]!), 'text/plain');
  t.match(commit, { sent: false, held: true, missing: 0 });
  t.strictSame(await store.listUndelivered(bob.id, 10), [], 'held until its time');
  t.equal(await store.messageRole(m.id, bob.id), null);
});

t.test('cancel and expiry: only the sender\'s waiting message; closed once; no upload commits after; its files let go', async (t) => {
  const { store, books, alice, bob, withFiles, stored } = await setup(t);
  const m = await store.storeMessage(withFiles([file('d', 10), file('e', 10)]));
  const [d, e] = m.attachments as [typeof m.attachments[0], typeof m.attachments[0]];
  await books.commitUpload(d.id, stored(d), 'text/plain');
  t.equal(await books.contentInUse(sha('d')), true);
  const notWaiting = { code: 'NOT_FOUND', message: `No message ${m.id} waiting for attachments in your outbox.` };
  await t.rejects(books.cancellable(bob.id, m.id), notWaiting, 'not the sender');
  await t.resolves(books.cancellable(alice.id, m.id));

  const closed = await books.closeSending(m.id, 'cancelled');
  t.equal(closed!.id, m.id);
  t.equal(closed!.attachments.find((a) => a.id === d.id)!.storagePath, stored(d), 'with the storage path its content had, to let it go');
  t.equal(await books.contentInUse(sha('d')), false, 'no attachment refers to it any more');
  t.equal(await books.closeSending(m.id, 'cancelled'), null, 'closed once');
  await t.rejects(books.cancellable(alice.id, m.id), notWaiting);
  t.equal(await books.commitUpload(e.id, stored(e), 'text/plain'), null, 'an upload finishing after the close does not count');
  await t.rejects(books.uploadable(alice.id, m.id, e.id), { code: 'MESSAGE_CLOSED', message: `Message ${m.id} is cancelled; send it again.` });
  t.equal(await books.resumable(e.id), false, 'its partial upload is not kept');

  const late = await store.storeMessage(withFiles([file('f', 1)], { uploadDeadline: iso(Date.now() - 1000) }));
  const due = await store.storeMessage(withFiles([file('g', 1)], { uploadDeadline: iso(Date.now() + 600_000) }));
  t.strictSame(await books.overdue(iso(Date.now()), 10), [late.id], 'only the one past its upload deadline');
  t.equal((await books.closeSending(late.id, 'expired'))!.id, late.id);
  t.strictSame(await books.overdue(iso(Date.now()), 10), []);
  t.ok(due);
});

t.test('download: sender and recipients of a sent message; not before it is stored, past its end, recalled or removed', async (t) => {
  const { store, books, alice, bob, carol, withFiles, stored } = await setup(t);
  const m = await store.storeMessage(withFiles([file('h', 100), file('i', 7)]));
  const [h, i] = m.attachments as [typeof m.attachments[0], typeof m.attachments[0]];
  await books.commitUpload(h.id, stored(h), 'text/plain');
  await t.rejects(books.downloadable(alice.id, m.id, i.id, 0), { code: 'NOT_READY' }, 'the sender, before its upload');
  await t.rejects(books.downloadable(bob.id, m.id, h.id, 0), { code: 'NOT_FOUND' }, 'not a recipient while it is still being sent');
  await books.commitUpload(i.id, stored(i), 'text/plain');

  t.match(await books.downloadable(bob.id, m.id, h.id, 40), { id: h.id, storagePath: stored(h), size: 100 });
  t.match(await books.downloadable(alice.id, m.id, h.id, 100), { id: h.id }, 'from its end: nothing left to send, still an answer');
  await t.rejects(books.downloadable(bob.id, m.id, h.id, 101), { code: 'BAD_ARGUMENT', message: 'offset is past the end (100 bytes).' });
  const missing = { code: 'NOT_FOUND', message: `No attachment ${h.id} on message ${m.id} in your inbox or outbox.` };
  await t.rejects(books.downloadable(carol.id, m.id, h.id, 0), missing, 'neither sender nor recipient: as if it did not exist');
  await t.rejects(books.downloadable(bob.id, m.id + 1, h.id, 0), { code: 'NOT_FOUND' }, 'on another message');

  await store.markDelivered(m.id, bob.id); // it popped up: a recall leaves it in bob's inbox, withdrawn
  await store.recallMessage({ messageId: m.id, byUserId: alice.id, reason: 'wrong file' });
  await t.rejects(books.downloadable(bob.id, m.id, h.id, 0), {
    code: 'RECALLED', message: `Message ${m.id} was withdrawn by its sender: wrong file; its attachments are no longer served.`,
  });
  t.match(await books.downloadable(alice.id, m.id, h.id, 0), { id: h.id }, 'its sender still may');

  // An expired message's files, removed after the grace period (the expiry sweep's claim).
  const { message: old } = await store.storeAlertedMessage(withFiles([file('j', 3)]), { priority: 'normal', ack: false, expiresAt: iso(Date.now() - 60_000) });
  const j = old.attachments[0]!;
  await books.commitUpload(j.id, stored(j), 'text/plain');
  await store.claimExpiredAttachments({ expiredBeforeIso: iso(Date.now()), nowIso: iso(Date.now()), limit: 10 });
  await t.rejects(books.downloadable(alice.id, old.id, j.id, 0), { code: 'ATTACHMENT_REMOVED' });
});

t.test('a refused data connection is in the audit log', async (t) => {
  const { store, books, alice, withFiles } = await setup(t);
  const m = await store.storeMessage(withFiles([file('k', 1)]));
  await books.auditRefused({
    transfer: 'u7', direction: 'upload', userId: alice.id, username: 'alice', address: '192.0.2.99', reason: 'address',
    attachment: m.attachments[0]!,
  });
  const [entry] = await store.listAudit({ kind: 'transfer_refused' }, { limit: 10 });
  t.match(entry, {
    kind: 'transfer_refused', actorId: alice.id, subject: 'alice', address: '192.0.2.99',
    detail: { transfer: 'u7', reason: 'address', direction: 'upload', messageId: m.id, attachmentId: m.attachments[0]!.id },
  });
});

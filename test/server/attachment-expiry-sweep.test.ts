/**
 * The expired-attachment sweep (src/server/attachment-expiry.ts) over each real store with its own
 * content (SQLite with files, PostgreSQL with chunks), as two nodes sweeping the same database at
 * once: every expired attachment is removed once, each content freed once and counted once, a
 * content an unexpired attachment shares is kept, batches are bounded, and every batch that
 * removed something has its audit row.
 */
import { createHash, randomBytes } from 'node:crypto';
import t from 'tap';
import { openContent } from '../../src/adapters/index.js';
import type { AttachmentContent } from '../../src/core/ports/content.js';
import type { Store, User } from '../../src/core/ports/store.js';
import { AttachmentExpirySweep, type SweepOutcome } from '../../src/server/attachment-expiry.js';
import { createLogger } from '../../src/server/logger.js';
import { forEachAdapter } from '../contract/store/adapters.js';
import { seedMembers } from '../contract/store/fixtures.js';
import { tempDir } from '../helpers/siar.js';

const DAY = 24 * 3600_000;
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** Stores a message from `sender` to `to` expiring at `expiresAt` (null: never) and uploads its files through the content port. */
async function sendWithFiles(store: Store, content: AttachmentContent, sender: User, to: User, expiresAt: string | null, files: Buffer[]): Promise<number> {
  const { message } = await store.storeAlertedMessage({
    senderId: sender.id, audience: 'direct', recipientIds: [to.id], subject: 's', body: 'b',
    attachments: files.map((f, i) => ({ name: `f${i}.bin`, size: f.length, sha256: sha(f), mediaType: 'application/octet-stream' })),
    uploadDeadline: new Date(Date.now() + DAY).toISOString(),
  }, { priority: 'normal', ack: false, expiresAt });
  for (const [i, a] of message.attachments.entries()) {
    const bytes = files[i]!;
    const upload = await content.beginUpload(a.id, { restart: false, maxSize: bytes.length });
    const sink = upload.open({ onDrain: () => undefined, onError: () => undefined });
    upload.hash.update(bytes);
    sink.write(Buffer.from(bytes));
    await sink.finish({ sync: true });
    const committed = await content.commit(upload, a.sha256,
      (key) => store.commitAttachment({ attachmentId: a.id, storagePath: key, mediaType: 'application/octet-stream' }),
      (h) => store.isContentReferenced(h));
    if (!committed) throw new Error(`attachment ${a.id} did not commit`);
  }
  return message.id;
}

forEachAdapter(t, (t, adapter) => {
  t.test('two nodes sweep at once: each expired attachment removed once, each content freed and counted once', async (t) => {
    const dataDir = tempDir(t, 'siar-sweep-');
    const store = await adapter.open(t);
    const other = await adapter.reopen(t, store);
    const content = await openContent(store, dataDir);
    await content.init();
    const otherContent = await openContent(other, dataDir);
    await otherContent.init();
    t.teardown(async () => { await content.close(); await otherContent.close(); });
    const [alice, bob] = (await seedMembers(store, ['alice', 'bob'])) as [User, User];

    const expired = new Date(Date.now() - 3 * DAY).toISOString();
    const shared = randomBytes(20_000);
    const own: Buffer[] = [];
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) {
      const files = [randomBytes(10_000 + i)];
      if (i === 0) files.push(shared, Buffer.from(files[0]!)); // the same content twice in one message
      own.push(files[0]!);
      ids.push(await sendWithFiles(store, content, alice, bob, expired, files));
    }
    const keeper = await sendWithFiles(store, content, alice, bob, null, [shared]);
    const before = (await content.spaceUsed()).committed;

    const log = createLogger('silent');
    const freed = [0, 0];
    const sweeps = [store, other].map((s, i) => new AttachmentExpirySweep(
      { store: s, content: i === 0 ? content : otherContent, stats: { attachmentsFreed: (b) => { freed[i]! += b; } }, log, graceMs: () => DAY },
      { intervalMs: 60_000, batch: 2 },
    ));
    const outcomes: SweepOutcome[] = [];
    for (let round = 0; round < 10; round++) {
      const got = await Promise.all(sweeps.map((s) => s.sweep()));
      outcomes.push(...got.map((o) => o!));
      t.ok(got.every((o) => o!.messages <= 2), 'no batch claims more than its bound');
      if (got.every((o) => o!.messages === 0)) break;
    }
    const sum = (k: keyof SweepOutcome) => outcomes.reduce((n, o) => n + o[k], 0);
    t.equal(sum('messages'), 5, 'every expired message claimed once between the two nodes');
    t.equal(sum('attachments'), 7, 'every expired attachment removed once');
    const ownBytes = own.reduce((n, b) => n + b.length, 0);
    t.equal(sum('files'), 5, 'five contents freed; the shared one stays for the unexpired message');
    t.equal(sum('bytes'), ownBytes, 'their bytes');
    t.equal(freed[0]! + freed[1]!, ownBytes, 'and counted for STATS once');
    t.equal(sum('failed'), 0);
    t.equal((await content.spaceUsed()).committed, before - ownBytes, 'the content store holds that much less');
    t.equal(await store.isContentReferenced(sha(shared)), true);
    const kept = (await store.getMessage(keeper))!.attachments[0]!;
    const chunks: Buffer[] = [];
    for await (const c of content.openRead(kept.storagePath!, 0)) chunks.push(c as Buffer);
    t.ok(Buffer.concat(chunks).equals(shared), 'the unexpired attachment still reads whole');
    for (const id of ids) t.ok((await store.getMessage(id))!.attachments.every((a) => a.removedAt && !a.storagePath), `message ${id}'s attachments are marked removed`);

    const audit = await store.listAudit({ kind: 'attachments_removed' }, { limit: 50 });
    t.equal(audit.length, outcomes.filter((o) => o.attachments > 0).length, 'one audit row per batch that removed something');
    t.equal(audit.reduce((n, e) => n + Number(e.detail.attachments), 0), 7);
    t.equal(audit.reduce((n, e) => n + Number(e.detail.bytes), 0), ownBytes);
  });

  t.test('grace off: nothing is claimed', async (t) => {
    const store = await adapter.open(t);
    const content = await openContent(store, tempDir(t, 'siar-sweep-'));
    await content.init();
    t.teardown(() => content.close());
    const [alice, bob] = (await seedMembers(store, ['alice', 'bob'])) as [User, User];
    const id = await sendWithFiles(store, content, alice, bob, new Date(Date.now() - 3 * DAY).toISOString(), [randomBytes(100)]);
    const sweep = new AttachmentExpirySweep({ store, content, stats: { attachmentsFreed: () => undefined }, log: createLogger('silent'), graceMs: () => 0 }, { intervalMs: 60_000 });
    t.equal(await sweep.sweep(), null);
    t.ok((await store.getMessage(id))!.attachments[0]!.storagePath, 'the attachment is kept');
  });
});

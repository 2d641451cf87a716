/**
 * Expired attachments removed after the grace period (issue 21 item 4), with the real `siar`
 * executable against a real server on SQLite (files in the data directory): a short grace and
 * sweep interval stand in for days. Before the grace the attachment downloads; after it the file
 * is gone from disk, DOWNLOAD answers ATTACHMENT_REMOVED, the audit log has one row with the files
 * and bytes freed, and STATS (siar admin stats) counts the bytes. `off` keeps them.
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { saveAttachments } from '../../src/client/cli/download.js';
import { declareFile, sendMessage } from '../../src/client/transfer.js';
import { jsonLines, siar, startWithMembers } from '../helpers/cli.js';
import { startServer, tempDir, until as untilTrue } from '../helpers/siar.js';

t.setTimeout(300_000);

/** Every file under the data directory's attachments/ (the committed contents). */
function contentFiles(dataDir: string): string[] {
  const root = path.join(dataDir, 'attachments');
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

t.test('an expired message\'s attachment is removed after the grace: file gone, ATTACHMENT_REMOVED, audited, counted', async (t) => {
  const dir = tempDir(t);
  const data = path.join(dir, 'data');
  const { admin, as } = await startWithMembers(t, data, [['unhas', 'Universitas Hasanuddin'], ['ugm', 'Universitas Gadjah Mada']], {
    args: ['--expired-attachment-grace', '2s', '--transfer-sweep-interval', '1s'],
  });
  const doc = path.join(dir, 'jadwal.txt');
  const bytes = 'Jadwal ujian semester ganjil\n'.repeat(100);
  writeFileSync(doc, bytes);
  const keep = path.join(dir, 'tetap.txt');
  writeFileSync(keep, 'tidak kedaluwarsa\n');

  // Long enough for the download below under a loaded machine (each CLI run starts Node afresh).
  const sent = await siar(['send', '--to', 'ugm', '--subject', 'Jadwal', '--body', 'Lampiran', '--expires', '20s', '--attach', doc, '--json'], as.unhas);
  t.equal(sent.code, 0, sent.stderr);
  const id = String(jsonLines(sent.stdout)[0]!.id);
  // Within its life (and the grace) the attachment downloads.
  const early = await siar(['read', id, '--save-dir', path.join(dir, 'early')], as.ugm);
  t.equal(early.code, 0, early.stderr);
  t.notMatch(early.stdout, /removed/, 'not marked removed before the sweep');
  const plain = await siar(['send', '--to', 'ugm', '--subject', 'Tetap', '--attach', keep, '--json'], as.unhas);
  t.equal(plain.code, 0, plain.stderr);
  const plainId = String(jsonLines(plain.stdout)[0]!.id);
  t.equal(contentFiles(data).length, 2, 'two contents stored');


  const audit = await until('the sweep\'s audit row', async () => {
    const rows = jsonLines((await siar(['admin', 'audit', '--kind', 'attachments_removed', '--json'], admin)).stdout);
    return rows.length > 0 ? rows : null;
  });
  t.equal(audit.length, 1, 'one audit row for the batch');
  t.match(audit[0], { kind: 'attachments_removed', actor: '', subject: '1', detail: { messages: 1, attachments: 1, files: 1, bytes: bytes.length, graceSeconds: 2 } });
  t.equal(contentFiles(data).length, 1, 'the expired content\'s file is gone; the other stays');

  // Saving skips it with the sentence `siar read` shows, instead of trying and failing the command.
  const late = await siar(['read', id, '--save-dir', path.join(dir, 'late')], as.ugm);
  t.equal(late.code, 0, `read --save-dir skips a removed attachment: ${late.stderr}`);
  t.match(late.stdout, /^not saved: jadwal\.txt \(removed .*: no longer downloadable\)$/m, 'read --save-dir says it skipped it');
  t.notOk(existsSync(path.join(dir, 'late', 'jadwal.txt')), 'nothing written for it');
  const all = await siar(['download', id, '--to', path.join(dir, 'all')], as.ugm);
  t.equal(all.code, 0, `download skips it: ${all.stderr}`);
  t.match(all.stdout, /^not saved: jadwal\.txt \(removed \d{4}-\d\d-\d\d \d\d:\d\d [+-]\d\d:\d\d: no longer downloadable\)$/m);
  const allJson = jsonLines((await siar(['download', id, '--to', path.join(dir, 'all'), '--json'], as.ugm)).stdout);
  t.match(allJson, [{ message: Number(id), name: 'jadwal.txt', removed: true, removedAt: /Z$/ }], '--json says removed');
  const attId = String((jsonLines((await siar(['read', id, '--json'], as.ugm)).stdout)[0]!.attachments as Array<{ id: number }>)[0]!.id);
  const one = await siar(['download', id, attId, '--to', path.join(dir, 'one')], as.ugm);
  t.equal(one.code, 1, 'asked for by id, a removed attachment is a failure (exit code 1)');
  t.match(one.stderr, new RegExp(`^siar: Attachment ${attId} \\(jadwal\\.txt\\) of message ${id} cannot be downloaded: the server removed it at .*, as its message expired longer ago than the server keeps attachments\\.\n$`));
  const body = await siar(['read', id], as.ugm);
  t.equal(body.code, 0, 'the message itself stays readable');
  t.match(body.stdout, /Lampiran/);
  // Every view says the attachment is gone instead of listing it as downloadable.
  t.match(body.stdout, /^Attachment \d+: jadwal\.txt \(2\.8 KiB, .*\) \(removed .*: no longer downloadable\)$/m, 'siar read marks it removed');
  const json = jsonLines((await siar(['read', id, '--json'], as.ugm)).stdout)[0]!;
  t.match(json.attachments, [{ name: 'jadwal.txt', removedAt: /^\d{4}-\d\d-\d\dT.*Z$/ }], '--json carries removedAt');
  const inbox = await siar(['inbox'], as.ugm);
  t.match(inbox.stdout, new RegExp(`^${id} .*\\+1 removed .*Jadwal`, 'm'), 'siar inbox marks it removed');
  t.match(inbox.stdout, new RegExp(`^${plainId} .*\\+1 .*Tetap`, 'm'));
  t.notMatch(inbox.stdout, new RegExp(`^${plainId} .*removed`, 'm'), 'the other message\'s attachment is not');
  const outbox = await siar(['read', id], as.unhas);
  t.match(outbox.stdout, /jadwal\.txt .*\(removed .*\)/, 'the sender sees it removed too');
  const other = await siar(['read', plainId, '--save-dir', path.join(dir, 'other')], as.ugm);
  t.equal(other.code, 0, 'an attachment of a message without expiry is untouched');

  const stats = jsonLines((await siar(['admin', 'stats', '--json'], admin)).stdout)[0]!;
  t.equal(stats.freedBytes, String(bytes.length), 'STATS counts the bytes freed');
  const human = await siar(['admin', 'stats'], admin);
  t.match(human.stdout, /freed\s+2\.8 KiB of expired attachments removed/);
  const members = jsonLines((await siar(['admin', 'members', '--json'], admin)).stdout);
  t.equal(Number(members.find((m) => m.username === 'unhas')!.storedBytes), 'Jadwal'.length + 'Lampiran'.length + 'Tetap'.length + 18,
    'the sender\'s storage usage gave the removed attachment back');
});

t.test('an attachment removed after the message was read: saving skips it, asked for by id it is an error', async (t) => {
  const s = await startServer(t, { expiredAttachmentGraceMs: 1000, transferSweepIntervalMs: 1000 });
  const ugm = await s.memberClient('ugm');
  const unhas = await s.memberClient('unhas');
  const dir = tempDir(t);
  const file = path.join(dir, 'denah.txt');
  writeFileSync(file, 'Denah gedung\n');
  const sent = await sendMessage(unhas, { to: ['ugm'], subject: 'Denah', expires: '1s' }, [await declareFile(file)]);
  await untilTrue('the sweep removes its attachment', async () => !!(await s.server.store.getMessage(sent.id))!.attachments[0]!.removedAt);
  // The record as a client read it before the sweep: the attachment not yet marked removed.
  const read = await ugm.read(sent.id);
  const stale = { ...read, attachments: read.attachments.map(({ removedAt: _, ...a }) => a) };
  const results = await saveAttachments(ugm, stale, path.join(dir, 'out'));
  t.match(results, [{ messageId: sent.id, attachmentId: sent.attachments[0]!.id, name: 'denah.txt', removed: true, removedAt: null }],
    'the server\'s ATTACHMENT_REMOVED is a skip, not a failure');
  t.notOk(existsSync(path.join(dir, 'out', 'denah.txt')));
  await t.rejects(saveAttachments(ugm, stale, path.join(dir, 'out'), sent.attachments[0]!.id),
    { message: `Attachment ${sent.attachments[0]!.id} (denah.txt) of message ${sent.id} cannot be downloaded: the server removed it, as its message expired longer ago than the server keeps attachments.`, exitCode: 1 });
});

t.test('--expired-attachment-grace takes off (kept) and durations; a bad value is one clear sentence', async (t) => {
  const off = await siar(['server', '--print-config', '--expired-attachment-grace', 'off']);
  t.equal(off.code, 0, off.stderr);
  t.match(off.stdout, /^expired-attachment-grace: 0 /m);
  const week = await siar(['server', '--print-config']);
  t.match(week.stdout, /^expired-attachment-grace: 7d /m, 'a week by default');
  const bad = await siar(['server', '--print-config', '--expired-attachment-grace', 'soon']);
  t.not(bad.code, 0);
  t.match(bad.stderr, /--expired-attachment-grace: "soon" is not a duration/);
});

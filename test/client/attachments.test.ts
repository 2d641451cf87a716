/** The client side of attachments: the transfer API (resume, verification, safe names) and the CLI as a new user runs it. */
import { execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { SiarClient } from '../../src/client/connection.js';
import {
  TransferError, declareFile, downloadAttachment, safeFileName, sendMessage, uploadFile, type Progress,
} from '../../src/client/transfer.js';
import { argsToMessage } from '../../src/protocol/index.js';
import { startServer, tempDir } from '../helpers/siar.js';
import { SIAR, setOwnPassword, siar, startSiarServer } from '../helpers/cli.js';
import {
  DataPeer, assertNothingLeft, mp4Bytes, noise, offer, pngBytes, sendDeclared, sha256, wavBytes, writeFile,
} from '../transfer/helpers.js';

async function pair(t: Test, overrides = {}) {
  const s = await startServer(t, overrides);
  await s.member('aa');
  await s.member('bb');
  return { s, a: await s.memberClient('aa'), b: await s.memberClient('bb'), dir: tempDir(t) };
}

t.test('sendMessage declares, uploads and sends; downloadAttachment brings back verified, byte-identical files', async (t) => {
  const { s, a, b, dir } = await pair(t);
  const files = [
    await declareFile(writeFile(dir, 'poster.png', pngBytes())),
    await declareFile(writeFile(dir, 'data set.bin', noise(3 * 1024 * 1024, 4))),
  ];
  const progress: Progress[] = [];
  const sent = await sendMessage(a, { to: ['bb'], subject: 'Lampiran', body: 'dua berkas' }, files, (p) => progress.push(p));
  t.equal(sent.state, 'sent', 'the last upload sent it');
  t.equal(sent.attachments[0]!.type, 'image/png', 'with the type the server detected');
  const last = progress.filter((p) => p.name === 'data set.bin').at(-1)!;
  t.equal(last.done, last.total, 'progress reaches the total');

  const out = tempDir(t);
  for (const a1 of sent.attachments) {
    const got = await downloadAttachment(b, { messageId: sent.id, attachmentId: a1.id, dir: out });
    t.equal(path.basename(got.path), a1.name);
    t.equal(sha256(readFileSync(got.path)), a1.sha256, `${a1.name} is byte-identical`);
  }
  t.strictSame(readdirSync(out).sort(), ['data set.bin', 'poster.png'], 'no part file is left behind');
  await assertNothingLeft(t, s);
});

t.test('uploadFile resumes from what the server kept after an interruption', async (t) => {
  const { s, a, dir } = await pair(t);
  const data = noise(1024 * 1024, 9);
  const file = writeFile(dir, 'x.bin', data);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data }]);
  // A first attempt dies after 400 000 bytes.
  const o = await offer(a, 'UPLOAD', { message: sent.id, attachment: sent.attachments[0]!.id });
  const peer = await DataPeer.connect(t, o);
  peer.write(`${o.ticket}\n`);
  peer.end(data.subarray(0, 400_000));
  await peer.closed;
  await s.server.transfers.whenIdle();

  const progress: Progress[] = [];
  const result = await uploadFile(a, { messageId: sent.id, attachmentId: sent.attachments[0]!.id, path: file }, (p) => progress.push(p));
  t.equal(progress[0]!.done, 400_000, 'it starts at the byte where the first attempt stopped');
  t.match(result, { sha256: sha256(data), sent: true, missing: 0 });
  await assertNothingLeft(t, s);
});

t.test('downloadAttachment resumes a partial download, and starts over when the partial file is bad', async (t) => {
  const { s, a, b } = await pair(t);
  const data = noise(600_000, 11);
  const sent = await sendDeclared(a, 'bb', [{ name: 'x.bin', data }]);
  const { uploadFile: _u } = { uploadFile };
  const src = writeFile(tempDir(t), 'x.bin', data);
  await _u(a, { messageId: sent.id, attachmentId: sent.attachments[0]!.id, path: src });

  const out = tempDir(t);
  const part = path.join(out, `.siar-${sent.id}-${sent.attachments[0]!.id}.part`);
  writeFileSync(part, data.subarray(0, 250_000));
  const progress: Progress[] = [];
  const got = await downloadAttachment(b, { messageId: sent.id, attachmentId: sent.attachments[0]!.id, dir: out }, (p) => progress.push(p));
  t.equal(progress[0]!.done, 250_000, 'resumed at the end of the partial file');
  t.equal(sha256(readFileSync(got.path)), sha256(data));

  const out2 = tempDir(t);
  const bad = Buffer.from(data.subarray(0, 250_000));
  bad[10] = bad[10]! ^ 1;
  writeFileSync(path.join(out2, `.siar-${sent.id}-${sent.attachments[0]!.id}.part`), bad);
  const again = await downloadAttachment(b, { messageId: sent.id, attachmentId: sent.attachments[0]!.id, dir: out2 });
  t.equal(sha256(readFileSync(again.path)), sha256(data), 'a corrupt partial file is detected and the download redone');
  t.strictSame(readdirSync(out2), ['x.bin']);
  await assertNothingLeft(t, s);
});

t.test('a file already there is kept; another file with the same name gets a numbered name', async (t) => {
  const { s, a, b } = await pair(t);
  const src = tempDir(t);
  const one = await sendMessage(a, { to: ['bb'], subject: '1' }, [await declareFile(writeFile(src, 'notes.txt', 'first\n'))]);
  const two = await sendMessage(a, { to: ['bb'], subject: '2' }, [await declareFile(writeFile(src, 'notes.txt', 'second\n'))]);
  const out = tempDir(t);
  const first = await downloadAttachment(b, { messageId: one.id, attachmentId: one.attachments[0]!.id, dir: out, expect: one.attachments[0]! });
  const repeat = await downloadAttachment(b, { messageId: one.id, attachmentId: one.attachments[0]!.id, dir: out, expect: one.attachments[0]! });
  t.equal(repeat.skipped, true, 'an identical file is not downloaded again');
  t.equal(repeat.path, first.path);
  const other = await downloadAttachment(b, { messageId: two.id, attachmentId: two.attachments[0]!.id, dir: out, expect: two.attachments[0]! });
  t.equal(path.basename(other.path), 'notes (1).txt');
  t.equal(readFileSync(other.path, 'utf8'), 'second\n');
  await assertNothingLeft(t, s);
});

t.test('a file changed after it was declared fails its checksum, and the message is cancelled, not sent half-way', async (t) => {
  const { s, a, b, dir } = await pair(t);
  const file = writeFile(dir, 'report.txt', 'version one\n');
  const declared = await declareFile(file);
  writeFileSync(file, 'version two\n');
  const error = await sendMessage(a, { to: ['bb'], subject: 'Laporan' }, [declared]).catch((e: unknown) => e);
  t.ok(error instanceof TransferError);
  t.equal((error as TransferError).code, 'CHECKSUM_MISMATCH');
  const outbox = argsToMessage((await a.request('OUTBOX')).items[0]!);
  t.equal(outbox.state, 'cancelled');
  t.strictSame((await b.request('INBOX')).items, [], 'the recipient sees nothing');
  await assertNothingLeft(t, s);
});

t.test('safeFileName keeps names readable and harmless', async (t) => {
  t.equal(safeFileName('Laporan Akhir.pdf', 'x'), 'Laporan Akhir.pdf');
  t.equal(safeFileName('../../etc/passwd', 'x'), 'passwd');
  t.equal(safeFileName('..\\..\\boot.ini', 'x'), 'boot.ini');
  t.equal(safeFileName('.bashrc', 'x'), 'bashrc');
  t.equal(safeFileName('..', 'fallback'), 'fallback');
  t.equal(safeFileName('bell\u0007.txt', 'x'), 'bell_.txt');
  t.equal(safeFileName('日本語 ñ.txt', 'x'), '日本語 ñ.txt');
  const long = safeFileName(`${'a'.repeat(300)}.pdf`, 'x');
  t.equal(long.length, 200);
  t.ok(long.endsWith('.pdf'));
});

// --- the CLI, as a new user runs it ------------------------------------------------------------



t.test('siar send --attach with an image, audio and video reaches several institutions; the popup, inbox, outbox and read show the attachments; download and read --save-dir bring back identical files', async (t) => {
  const data = tempDir(t);
  const { address, port } = await startSiarServer(t, data);
  const env = { SIAR_SERVER: address };
  const admin = await SiarClient.connect({ host: '127.0.0.1', port });
  t.teardown(() => admin.close());
  await admin.login('admin', readFileSync(path.join(data, 'admin-password'), 'utf8').trim());
  for (const u of ['unhas', 'ugm', 'itb']) {
    const reg = await siar(['register', '--institution', `Universitas ${u}`, '--contact', 'C', '--email', `${u}@example.ac.id`, '--username', u], env);
    t.equal(reg.code, 0, reg.stderr);
    await admin.request('APPROVE', { id: reg.stdout.trim() });
  }
  const as = async (u: string) => ({ ...env, SIAR_USER: u, SIAR_PASSWORD: await setOwnPassword(address, data, u) });
  const unhas = await as('unhas');
  const ugm = await as('ugm');
  const itb = await as('itb');

  // ugm listens for popups.
  const listener = spawn(process.execPath, [SIAR, 'listen'], { env: { ...process.env, ...ugm }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { listener.kill(); });
  const popups = createInterface({ input: listener.stdout! })[Symbol.asyncIterator]();
  await new Promise<void>((resolve) => listener.stderr!.once('data', () => resolve())); // "listening as ugm"

  const src = tempDir(t);
  const files = {
    'poster seminar.png': pngBytes(),
    'sambutan.wav': wavBytes(16_000),
    'video kegiatan.mp4': mp4Bytes(2 * 1024 * 1024),
  };
  for (const [name, bytes] of Object.entries(files)) writeFile(src, name, bytes);
  const send = await siar([
    'send', '--to', 'ugm,itb', '--subject', 'Seminar nasional', '--body', 'Lampiran: poster, sambutan, video',
    ...Object.keys(files).flatMap((n) => ['--attach', path.join(src, n)]), '--json',
  ], unhas);
  t.equal(send.code, 0, send.stderr);
  t.equal(send.stderr, '', 'no progress bar when stderr is not a terminal');
  const sent = JSON.parse(send.stdout) as { id: number; state: string; attachments: Array<{ name: string; type: string }> };
  t.equal(sent.state, 'sent');
  t.strictSame(sent.attachments.map((a) => [a.name, a.type]), [
    ['poster seminar.png', 'image/png'], ['sambutan.wav', 'audio/wav'], ['video kegiatan.mp4', 'video/mp4'],
  ], 'each attachment with the type detected from its content');

  const popup = (await popups.next()).value as string;
  t.match(popup, `#${sent.id} from unhas`);
  t.match(popup, `[3 attachment(s): ${Object.keys(files).join(', ')}]`, 'the popup names the attachments');

  const inbox = await siar(['inbox'], itb);
  t.match(inbox.stdout, new RegExp(`${sent.id}\\s.*\\+3\\s+Seminar nasional`), 'the inbox shows +3 attachments');
  const outbox = await siar(['outbox', '--json'], unhas);
  t.equal(JSON.parse(outbox.stdout.trim()).attachments.length, 3, 'the outbox lists them');
  const read = await siar(['read', String(sent.id)], itb);
  for (const name of Object.keys(files)) t.match(read.stdout, `: ${name} (`, `read lists ${name}`);
  t.match(read.stdout, /video kegiatan\.mp4 \(2\.0 MiB, video\/mp4, sha256 [0-9a-f]{64}\)/);

  const saveDir = path.join(tempDir(t), 'lampiran');
  const saved = await siar(['read', String(sent.id), '--save-dir', saveDir], itb);
  t.equal(saved.code, 0, saved.stderr);
  t.match(saved.stdout, /saved: .*poster seminar\.png \(.*sha256 verified\)/);
  const dl = await siar(['download', String(sent.id), '--to', path.join(tempDir(t), 'dl'), '--json'], ugm);
  t.equal(dl.code, 0, dl.stderr);
  const got = dl.stdout.trim().split('\n').map((l) => JSON.parse(l) as { name: string; path: string; sha256: string });
  t.equal(got.length, 3);
  for (const g of got) {
    const original = files[g.name as keyof typeof files];
    t.equal(sha256(readFileSync(g.path)), sha256(original), `${g.name}: download is byte-identical`);
    t.equal(sha256(readFileSync(path.join(saveDir, g.name))), sha256(original), `${g.name}: read --save-dir is byte-identical`);
  }
  const one = await siar(['download', String(sent.id), '2', '--to', path.join(tempDir(t), 'one')], itb);
  t.match(one.stdout, /^saved: .*sambutan\.wav/, 'one attachment by its id');

  const stranger = await siar(['download', String(sent.id), '--to', tempDir(t)], await (async () => {
    const reg = await siar(['register', '--institution', 'Luar', '--contact', 'L', '--email', 'luar@example.ac.id', '--username', 'luar'], env);
    await admin.request('APPROVE', { id: reg.stdout.trim() });
    return as('luar');
  })());
  t.not(stranger.code, 0, 'a member who is neither sender nor recipient cannot download');
  t.match(stranger.stderr, /NOT_FOUND/);

  const transfers = await admin.request('TRANSFERS');
  t.equal(transfers.args.get('listeners'), '0', 'no shadow listener is left');
  t.strictSame(readdirSync(path.join(data, 'tmp')), [], 'no temp file is left');
  t.notOk(existsSync(path.join(saveDir, `.siar-${sent.id}-1.part`)));
});

/**
 * The shadow-socket half of scenario 4, through the project's attachments client API
 * (src/client/transfer.ts) and the project's SiarClient: a 1 GiB upload and download, and
 * concurrent 20 MiB uploads, each timed against the siar server child's peak RSS.
 */
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { SiarClient } from '../../src/client/connection.js';
import { downloadAttachment, encodeDeclaration, uploadFile } from '../../src/client/transfer.js';
import { decodeAttachment, type AttachmentInfo } from '../../src/protocol/index.js';
import { progress } from '../lib/env.js';
import { BENCH_PASSWORD, memberName, seedMembers } from '../lib/seed.js';
import { ServerProcess, makeTempDir } from '../lib/server.js';
import { timed, type TransferFigure } from './attachments.js';

const MiB = 1024 * 1024;

export interface ShadowInput {
  work: string;
  big: string;
  bigBytes: number;
  bigSha: string;
  smalls: { path: string; sha256: string }[];
  smallBytes: number;
  cpuProfDir?: string;
}

async function member(port: number, username: string): Promise<SiarClient> {
  const c = await SiarClient.connect({ host: '127.0.0.1', port, requestTimeoutMs: 600_000 });
  await c.login(username, BENCH_PASSWORD);
  return c;
}

/** SEND with one declared attachment (not timed); returns the message id and the attachment. */
async function declare(c: SiarClient, to: string, file: { path: string; name: string; size: number; sha256: string }): Promise<{ messageId: number; attachment: AttachmentInfo }> {
  const reply = await c.request('SEND', { to, subject: `bench ${file.name}`, body: 'attachment benchmark', attach: encodeDeclaration(file) });
  const attachment = reply.args.getAll('attachment').map(decodeAttachment).find((a) => a !== null && a.name === file.name);
  if (!attachment) throw new Error(`SEND did not list ${file.name}: ${reply.args.toFields().join('|')}`);
  return { messageId: Number(reply.args.get('id')), attachment };
}

export async function shadowFigures(input: ShadowInput): Promise<{ figures: TransferFigure[]; problems: string[]; note: string }> {
  const figures: TransferFigure[] = [];
  const problems: string[] = [];
  const dataDir = path.join(makeTempDir('attach-siar'), 'data');
  const senders = Math.max(1, input.smalls.length);
  await seedMembers(dataDir, senders, 'u'); // u00001 … senders
  await seedMembers(dataDir, 1, 'r'); // r00001: the recipient
  const server = await ServerProcess.start({ label: 'attachments', dataDir, cpuProfDir: input.cpuProfDir });
  const clients: SiarClient[] = [];
  const recipientName = memberName('r', 1);
  try {
    const sender = await member(server.port, memberName('u', 1));
    const recipient = await member(server.port, recipientName);
    clients.push(sender, recipient);

    // 1 GiB up, then down.
    progress('attachments', `siar shadow socket: upload ${input.bigBytes / MiB} MiB`);
    const bigFile = { path: input.big, name: 'big.bin', size: input.bigBytes, sha256: input.bigSha };
    const { messageId, attachment } = await declare(sender, recipientName, bigFile);
    const up = await timed(server.pid, () => uploadFile(sender, { messageId, attachmentId: attachment.id, path: input.big }));
    figures.push({
      what: `upload 1 × ${input.bigBytes / MiB} MiB`, system: 'siar shadow socket', bytes: input.bigBytes, files: 1, seconds: up.seconds,
      mibPerSec: input.bigBytes / MiB / up.seconds, peakRssKiB: up.peakRssKiB, ok: up.value.sha256 === input.bigSha && up.value.sent,
    });
    progress('attachments', `siar shadow socket: download ${input.bigBytes / MiB} MiB`);
    const dir = path.join(input.work, 'siar-down');
    const down = await timed(server.pid, () => downloadAttachment(recipient, { messageId, attachmentId: attachment.id, dir }));
    figures.push({
      what: `download 1 × ${input.bigBytes / MiB} MiB`, system: 'siar shadow socket', bytes: input.bigBytes, files: 1, seconds: down.seconds,
      mibPerSec: input.bigBytes / MiB / down.seconds, peakRssKiB: down.peakRssKiB,
      ok: down.value.sha256 === input.bigSha && statSync(down.value.path).size === input.bigBytes,
    });
    rmSync(dir, { recursive: true, force: true });

    // Concurrent uploads: one member each (a member may have 8 live transfers).
    if (input.smalls.length > 0) {
      const n = input.smalls.length;
      progress('attachments', `siar shadow socket: ${n} concurrent uploads of ${input.smallBytes / MiB} MiB`);
      const uploaders: SiarClient[] = [sender];
      for (let i = 2; i <= n; i++) uploaders.push(await member(server.port, memberName('u', i)));
      clients.push(...uploaders.slice(1));
      const declared = await Promise.all(input.smalls.map((f, i) => declare(uploaders[i]!, recipientName, {
        path: f.path, name: `small-${i}.bin`, size: input.smallBytes, sha256: f.sha256,
      })));
      const many = await timed(server.pid, () => Promise.all(declared.map((d, i) => uploadFile(uploaders[i]!, { messageId: d.messageId, attachmentId: d.attachment.id, path: input.smalls[i]!.path }))));
      figures.push({
        what: `${n} concurrent uploads × ${input.smallBytes / MiB} MiB`, system: 'siar shadow socket', bytes: input.smallBytes * n, files: n, seconds: many.seconds,
        mibPerSec: (input.smallBytes * n) / MiB / many.seconds, peakRssKiB: many.peakRssKiB,
        ok: many.value.every((r, i) => r.sha256 === input.smalls[i]!.sha256 && r.sent),
      });
    }
    if (!server.alive) problems.push('the siar server died during the attachment runs');
  } finally {
    await Promise.all(clients.map((c) => c.close()));
    await server.stop();
  }
  return { figures, problems, note: 'Shadow-socket figures through src/client/transfer.ts (uploadFile / downloadAttachment).' };
}

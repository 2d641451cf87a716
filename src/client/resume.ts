/**
 * Continuing a message still being sent — after Ctrl-C, a lost connection or a closed TUI: which
 * of its attachments the server does not hold in full, which local file is each, and the uploads,
 * each from the byte the server already has (UPLOAD's offset). Shared by `siar resume` and the
 * TUI's outbox.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { AttachmentInfo, MessageRecord } from '../protocol/index.js';
import type { SiarClient } from './connection.js';
import type { PendingUpload } from './pending-uploads.js';
import { TransferError, declareFile, uploadFile, type OnProgress } from './transfer.js';

/**
 * Why a message cannot be resumed, in a sentence. `closed`: it expired or was cancelled; `files`:
 * a local file is unknown or changed (the caller says how to give it).
 */
export class ResumeError extends Error {
  constructor(message: string, readonly kind: 'closed' | 'files' | 'other' = 'other') {
    super(message);
    this.name = 'ResumeError';
  }
}

export interface ResumedAttachment {
  id: number;
  name: string;
  size: number;
  /** The byte the upload continued from (0: it started over or had not started). */
  from: number;
}

export interface ResumeResult {
  id: number;
  /** 'sent' once the last attachment is in. */
  state: string;
  attachments: ResumedAttachment[];
}

/** The sender's view of a message that waits for attachments; a clear error for any other. */
export async function unsentMessage(client: SiarClient, id: number): Promise<MessageRecord> {
  const m = await client.read(id);
  if (m.state === 'expired' || m.state === 'cancelled') {
    throw new ResumeError(`Message ${id} was ${m.state} before its attachments were all in; nobody received it. Send it again.`, 'closed');
  }
  if (m.state !== 'sending') throw new ResumeError(`Message ${id} is not waiting for attachments: there is nothing to resume.`);
  return m;
}

/** Attachments the server does not hold in full (all of them when the server does not say). */
export function unsentAttachments(m: MessageRecord): AttachmentInfo[] {
  return m.attachments.filter((a) => a.uploaded === undefined || a.uploaded < a.size);
}

/**
 * The local file of each unsent attachment: a path given again (any order; matched by size and
 * sha256), else the one remembered when the message was sent — used as is when its size and
 * mtime are unchanged, hashed again otherwise. Throws, naming what is missing, when a file
 * cannot be found or no longer has the declared content.
 */
export async function localFiles(
  m: MessageRecord, remembered: PendingUpload | null, given: readonly string[], onProgress?: OnProgress,
): Promise<Map<number, string>> {
  const unsent = unsentAttachments(m);
  const found = new Map<number, string>();
  for (const file of given) {
    let declared;
    try {
      declared = await declareFile(file, path.basename(file), onProgress);
    } catch (err) {
      throw new ResumeError(`Cannot read ${file}: ${(err as Error).message}`);
    }
    const a = unsent.find((x) => !found.has(x.id) && x.size === declared.size && x.sha256 === declared.sha256);
    if (!a) {
      const names = unsent.map((x) => x.name).join(', ') || 'none';
      throw new ResumeError(`${file} is not one of message ${m.id}'s unsent attachments (${names}): its content differs.`, 'files');
    }
    found.set(a.id, path.resolve(file));
  }
  const changed: string[] = [];
  for (const a of unsent) {
    if (found.has(a.id)) continue;
    const r = remembered?.files.find((f) => f.attachmentId === a.id);
    if (!r) continue;
    const info = await stat(r.path).catch(() => null);
    if (!info?.isFile() || info.size !== a.size) {
      changed.push(`${r.path} (${info ? 'changed' : 'gone'})`);
      continue;
    }
    if (info.mtimeMs !== r.mtimeMs && (await declareFile(r.path, a.name, onProgress)).sha256 !== a.sha256) {
      changed.push(`${r.path} (changed)`);
      continue;
    }
    found.set(a.id, r.path);
  }
  const missing = unsent.filter((a) => !found.has(a.id));
  if (missing.length > 0) {
    const why = changed.length > 0 ? ` The remembered ${changed.length === 1 ? 'file is' : 'files are'} no longer as sent: ${changed.join(', ')}.` : '';
    throw new ResumeError(`This computer does not know which file is ${missing.map((a) => `"${a.name}"`).join(', ')} of message ${m.id}.${why}`, 'files');
  }
  return found;
}

/** Uploads each unsent attachment from the server's offset; the message goes out with the last. */
export async function resumeUploads(
  client: SiarClient, m: MessageRecord, files: ReadonlyMap<number, string>, onProgress?: OnProgress,
): Promise<ResumeResult> {
  const result: ResumeResult = { id: m.id, state: 'sending', attachments: [] };
  for (const a of unsentAttachments(m)) {
    let from: number | null = null;
    try {
      const r = await uploadFile(client, { messageId: m.id, attachmentId: a.id, path: files.get(a.id)! }, (p) => {
        from ??= p.done;
        onProgress?.(p);
      });
      if (r.sent) result.state = 'sent';
    } catch (err) {
      // In by now (a concurrent resume, or the count above was read mid-commit): nothing to send.
      if (!(err instanceof TransferError && err.code === 'ALREADY_UPLOADED')) throw err;
    }
    result.attachments.push({ id: a.id, name: a.name, size: a.size, from: from ?? a.size });
  }
  // Every attachment was already in: the message went out with whichever upload finished last.
  if (result.state !== 'sent') {
    const now = await client.read(m.id);
    if (now.state === undefined || now.state === 'sent') result.state = 'sent';
  }
  return result;
}

import { PendingUploads, pendingFiles } from '../pending-uploads.js';
import { ResumeError, localFiles, resumeUploads, unsentMessage } from '../resume.js';
import { TransferError, declareFile, downloadAttachment, sendMessage, type LocalFile } from '../transfer.js';
import type { SiarSession } from '../session.js';
import type { TuiTransfers } from './host.js';

/**
 * The TUI's attachments, on the transfer client (src/client/transfer.ts, issue #3): a message
 * with files is declared, then each file goes to its shadow listener with progress; a download
 * lands in the chosen folder only after its size and sha256 are verified. The files of a message
 * being sent are remembered (`uploads`, as `siar send` does) until it is out, so the outbox can
 * resume it after the TUI was closed or the connection lost.
 */
export function createTransfers(session: SiarSession, uploads: PendingUploads = new PendingUploads()): TuiTransfers {
  const owner = () => ({ server: session.serverList, username: session.state.username ?? '' });
  const forget = (id: number) => {
    const { server, username } = owner();
    uploads.forget(server, username, id);
  };
  return {
    async send(draft, onProgress) {
      const files: LocalFile[] = [];
      for (const file of draft.files) files.push(await declareFile(file));
      const fields = draft.channel ? { channel: draft.channel } : draft.all ? { all: true } : { to: draft.to ?? [] };
      const sent = await sendMessage(session.connection(), { ...fields, subject: draft.subject, body: draft.body }, files, (p) => {
        const index = files.findIndex((f) => f.name === p.name);
        if (index >= 0 && p.phase === 'uploading') onProgress(index, p.done, p.total);
      }, (stored) => {
        try {
          uploads.remember({ ...owner(), messageId: stored.id, uploadDeadline: stored.uploadDeadline, files: pendingFiles(stored, files) });
        } catch { /* best effort: without it a resume needs `siar resume --attach` */ }
      }).catch((err: unknown) => {
        // Cancelled: nothing left to resume. Otherwise the outbox offers to resume it.
        if (err instanceof TransferError && err.cancelled && err.messageId !== undefined) forget(err.messageId);
        throw err;
      });
      forget(sent.id);
      return { id: sent.id, recipients: sent.recipients };
    },
    async resume(id, onProgress) {
      const client = session.connection();
      const { server, username } = owner();
      try {
        const m = await unsentMessage(client, id);
        const files = await localFiles(m, uploads.recall(server, username, id), []);
        const result = await resumeUploads(client, m, files, (p) => {
          if (p.phase === 'uploading') onProgress(p.attachmentId, p.done, p.total);
        });
        if (result.state === 'sent') forget(id);
        return { state: result.state };
      } catch (err) {
        if (err instanceof ResumeError && err.kind === 'closed') forget(id);
        if (err instanceof ResumeError && err.kind === 'files') {
          throw new ResumeError(`${err.message} Continue it with \`siar resume ${id} --attach FILE\`, or X withdraws it.`, 'files');
        }
        throw err;
      }
    },
    async cancel(id) {
      await session.cancel(id);
      forget(id);
    },
    async download(message, attachment, dir, onProgress) {
      const r = await downloadAttachment(session.connection(), { messageId: message.id, attachmentId: attachment.id, dir, expect: attachment },
        (p) => onProgress(p.done, p.total));
      return { path: r.path };
    },
  };
}

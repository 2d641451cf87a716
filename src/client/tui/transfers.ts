import { declareFile, downloadAttachment, sendMessage, type LocalFile } from '../transfer.js';
import type { SiarSession } from '../session.js';
import type { TuiTransfers } from './controller.js';

/**
 * The TUI's attachments, on the transfer client (src/client/transfer.ts, issue #3): a message
 * with files is declared, then each file goes to its shadow listener with progress; a download
 * lands in the chosen folder only after its size and sha256 are verified.
 */
export function createTransfers(session: SiarSession): TuiTransfers {
  return {
    async send(draft, onProgress) {
      const files: LocalFile[] = [];
      for (const file of draft.files) files.push(await declareFile(file));
      const fields = draft.channel ? { channel: draft.channel } : draft.all ? { all: true } : { to: draft.to ?? [] };
      const sent = await sendMessage(session.connection(), { ...fields, subject: draft.subject, body: draft.body }, files, (p) => {
        const index = files.findIndex((f) => f.name === p.name);
        if (index >= 0) onProgress(index, p.done, p.total);
      });
      return { id: sent.id, recipients: sent.recipients };
    },
    async download(message, attachment, dir, onProgress) {
      const r = await downloadAttachment(session.connection(), { messageId: message.id, attachmentId: attachment.id, dir, expect: attachment },
        (p) => onProgress(p.done, p.total));
      return { path: r.path };
    },
  };
}

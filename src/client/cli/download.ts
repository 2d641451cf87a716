/**
 * `siar download MESSAGE_ID [ATTACHMENT_ID] --to DIR` and the pieces `send --attach` and
 * `read --save-dir` share with it: progress bars and saving a message's attachments.
 */
import cliProgress from 'cli-progress';
import type { Argv } from 'yargs';
import type { AttachmentInfo, MessageRecord } from '../../protocol/index.js';
import { formatBytes } from '../../protocol/units.js';
import type { SiarClient } from '../connection.js';
import { TransferError, downloadAttachment, type DownloadResult, type OnProgress } from '../transfer.js';
import { localTime } from './alerts.js';
import { CliError, defineCommand, oneLine, print, printErr, printJson, withClient, withLogin, type ClientOptions } from './common.js';

export interface ProgressDisplay {
  onProgress: OnProgress;
  /** Leaves the bars on screen as they are and releases the terminal. */
  stop(): void;
}

/**
 * One bar per attachment on stderr when it is a terminal (the issue's rule: a progress bar on a
 * TTY, silence otherwise, so scripts and pipes see only the results on stdout). A file's bar
 * shows its step: hashing before the message is sent (seconds for a large file), then uploading
 * (or downloading). Bars are keyed by name, unique within a message, as a file being hashed has
 * no attachment id yet.
 */
export function progressBars(enabled: boolean = process.stderr.isTTY === true): ProgressDisplay {
  if (!enabled) return { onProgress: () => undefined, stop: () => undefined };
  const multi = new cliProgress.MultiBar({
    stream: process.stderr,
    format: '{name} |{bar}| {percentage}% {step} {done} of {size}',
    barCompleteChar: '█',
    barIncompleteChar: '░',
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    etaBuffer: 50,
    fps: 10,
  });
  const bars = new Map<string, cliProgress.SingleBar>();
  let stopped = false;
  return {
    onProgress: (p) => {
      if (stopped) return;
      const name = oneLine(p.name); // another member's file name, on the terminal
      const payload = {
        name: name.length > 30 ? `${name.slice(0, 29)}…` : name.padEnd(30), step: p.phase.padEnd(11),
        done: formatBytes(p.done), size: formatBytes(p.total),
      };
      let bar = bars.get(p.name);
      // A bar of total 0 would divide by zero; an empty file shows as complete.
      if (!bar) bars.set(p.name, (bar = multi.create(Math.max(1, p.total), p.total === 0 ? 1 : p.done, payload)));
      else bar.update(p.total === 0 ? 1 : p.done, payload);
    },
    // Once: a second stop would draw the bars again below the first.
    stop: () => {
      if (!stopped) multi.stop();
      stopped = true;
    },
  };
}

/** An attachment the server removed (its message expired longer ago than the server keeps attachments): nothing to download. */
export interface RemovedAttachment {
  messageId: number;
  attachmentId: number;
  name: string;
  /** When it was removed; null when the server said so only as the download was asked (removed meanwhile). */
  removedAt: string | null;
  removed: true;
}

/** What saving did for one attachment: saved (or found already there), or skipped as removed. */
export type SaveResult = (DownloadResult & { removed?: undefined }) | RemovedAttachment;

/** `(removed 2026-12-07 09:30 +07:00: no longer downloadable)`, as `siar read` and the downloads say it. */
export function removedNote(removedAt: string | null): string {
  return `(removed${removedAt ? ` ${localTime(removedAt, true)}` : ''}: no longer downloadable)`;
}

/**
 * Downloads the chosen attachments of a message into `dir`, verifying each sha256. Attachments the
 * server removed (issue 21: expired past its --expired-attachment-grace) are skipped, not tried —
 * also one removed between the listing and its download — and reported as removed; asked for by
 * id (`siar download ID ATT`), a removed one is an error saying so.
 */
export async function saveAttachments(
  client: SiarClient, message: MessageRecord, dir: string, only?: number,
): Promise<SaveResult[]> {
  const chosen = only === undefined ? message.attachments : message.attachments.filter((a) => a.id === only);
  if (only !== undefined && chosen.length === 0) throw new CliError(`Message ${message.id} has no attachment ${only}.`);
  const gone = (a: AttachmentInfo, removedAt: string | null): RemovedAttachment => {
    if (only !== undefined) throw removedError(message.id, a, removedAt);
    return { messageId: message.id, attachmentId: a.id, name: a.name, removedAt, removed: true };
  };
  const progress = progressBars();
  const results: SaveResult[] = [];
  try {
    for (const a of chosen) {
      if (a.removedAt) {
        results.push(gone(a, a.removedAt));
        continue;
      }
      try {
        results.push(await downloadAttachment(client, { messageId: message.id, attachmentId: a.id, dir, expect: a }, progress.onProgress));
      } catch (err) {
        // Removed after the message was read: skipped like the others.
        if (err instanceof TransferError && err.code === 'ATTACHMENT_REMOVED') results.push(gone(a, null));
        else throw err;
      }
    }
  } catch (err) {
    if (err instanceof TransferError) throw new CliError(`${err.message} (${err.code})`);
    throw err;
  } finally {
    progress.stop();
  }
  return results;
}

/** `siar download ID ATT` of a removed attachment: nothing to download, and a failure (exit code 1). */
function removedError(messageId: number, a: AttachmentInfo, removedAt: string | null): CliError {
  return new CliError(oneLine(`Attachment ${a.id} (${a.name}) of message ${messageId} cannot be downloaded: the server removed it${removedAt ? ` at ${localTime(removedAt, true)}` : ''}, `
    + 'as its message expired longer ago than the server keeps attachments.'));
}

export function printSaved(results: SaveResult[], json: boolean): void {
  for (const r of results) {
    if (r.removed) {
      if (json) printJson({ message: r.messageId, attachment: r.attachmentId, name: r.name, removed: true, removedAt: r.removedAt });
      else print(`${oneLine(`not saved: ${r.name}`)} ${removedNote(r.removedAt)}\n`);
    } else if (json) {
      printJson({ message: r.messageId, attachment: r.attachmentId, name: r.name, path: r.path, size: r.size, sha256: r.sha256, type: r.type, skipped: r.skipped });
    } else {
      const how = r.skipped ? 'already there' : 'saved';
      print(`${how}: ${r.path} (${formatBytes(r.size)}, ${r.type}, sha256 verified)\n`);
    }
  }
}

type DownloadOpts = ClientOptions & { id: number; attachment?: number; to: string };

export const downloadCommand = defineCommand<DownloadOpts>({
  command: 'download <id> [attachment]',
  describe: 'download a message\'s attachments (or one) into a directory, verifying each sha256',
  builder: (y: Argv) => withLogin(y)
    .positional('id', { type: 'number', demandOption: true, describe: 'message id' })
    .positional('attachment', { type: 'number', describe: 'attachment id (default: all of them, skipping those the server removed)' })
    .option('to', { type: 'string', default: '.', describe: 'directory to save into (created if missing)' }),
  handler: async (opts: DownloadOpts) => {
    await withClient(opts, async (client) => {
      const message = await client.read(opts.id);
      if (message.attachments.length === 0) {
        if (!opts.json) printErr(`message ${message.id} has no attachments\n`);
        return;
      }
      printSaved(await saveAttachments(client, message, opts.to, opts.attachment), !!opts.json);
    });
  },
});

/**
 * `siar download MESSAGE_ID [ATTACHMENT_ID] --to DIR` and the pieces `send --attach` and
 * `read --save-dir` share with it: progress bars and saving a message's attachments.
 */
import cliProgress from 'cli-progress';
import type { Argv } from 'yargs';
import type { MessageRecord } from '../../protocol/index.js';
import { formatBytes } from '../../protocol/units.js';
import type { SiarClient } from '../connection.js';
import { TransferError, downloadAttachment, type DownloadResult, type OnProgress } from '../transfer.js';
import { CliError, defineCommand, oneLine, print, printErr, printJson, withClient, withLogin, type ClientOptions } from './common.js';

export interface ProgressDisplay {
  onProgress: OnProgress;
  /** Leaves the bars on screen as they are and releases the terminal. */
  stop(): void;
}

/**
 * One bar per attachment on stderr when it is a terminal (the rule: a progress bar on a
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

/** Downloads the chosen attachments of a message into `dir`, verifying each sha256. */
export async function saveAttachments(
  client: SiarClient, message: MessageRecord, dir: string, only?: number,
): Promise<DownloadResult[]> {
  const chosen = only === undefined ? message.attachments : message.attachments.filter((a) => a.id === only);
  if (only !== undefined && chosen.length === 0) throw new CliError(`Message ${message.id} has no attachment ${only}.`);
  const progress = progressBars();
  const results: DownloadResult[] = [];
  try {
    for (const a of chosen) {
      results.push(await downloadAttachment(client, { messageId: message.id, attachmentId: a.id, dir, expect: a }, progress.onProgress));
    }
  } catch (err) {
    if (err instanceof TransferError) throw new CliError(`${err.message} (${err.code})`);
    throw err;
  } finally {
    progress.stop();
  }
  return results;
}

export function printSaved(results: DownloadResult[], json: boolean): void {
  for (const r of results) {
    if (json) {
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
    .positional('attachment', { type: 'number', describe: 'attachment id (default: all of them)' })
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

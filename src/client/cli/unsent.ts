/**
 * Messages whose attachments are not all uploaded yet, on the command line: what Ctrl-C during
 * `send --attach` or `resume` says, `siar resume ID` and `siar cancel ID`, and the lines `siar
 * outbox` adds about how far each unsent attachment got. The files of a message are remembered
 * (PendingUploads) from the moment the server stores it until it is sent or cancelled.
 */
import type { Argv } from 'yargs';
import type { MessageRecord } from '../../protocol/index.js';
import { formatBytes } from '../../protocol/units.js';
import { PendingUploads, pendingFiles, serverKey } from '../pending-uploads.js';
import { ResumeError, localFiles, resumeUploads, unsentAttachments, unsentMessage } from '../resume.js';
import { TransferError, type LocalFile, type OnProgress, type SentMessage } from '../transfer.js';
import { CliError, defineCommand, oneLine, print, printErr, printJson, withClient, withLogin, type ClientOptions } from './common.js';
import { progressBars, type ProgressDisplay } from './download.js';

/** How to go on with a message still being sent. */
export function howToContinue(id: number): string {
  return `Continue with \`siar resume ${id}\` (each upload goes on from where the server's copy stopped) or withdraw it with \`siar cancel ${id}\`.`;
}

interface Tracked {
  messageId: number | null;
  deadline: string | null;
  /** By file name, in the message's order: bytes moved and the size. */
  files: Map<string, { done: number; total: number }>;
  hashing: string | null;
  /** SEND is on its way: the server may store the message before we hear its id. */
  requested: boolean;
}

/**
 * Watches an upload run (send --attach, resume) so Ctrl-C can say what happened instead of dying
 * silently: nothing sent yet (still hashing), or which message waits, how far each file got, and
 * how to continue. The uploads themselves are left as they are: the server keeps their bytes.
 */
export class InterruptGuard {
  private readonly state: Tracked = { messageId: null, deadline: null, files: new Map(), hashing: null, requested: false };
  private readonly onSigint = (): void => this.interrupted();

  constructor(private readonly progress: ProgressDisplay) {
    process.once('SIGINT', this.onSigint);
  }

  /** Progress for the bars, noted for the interruption notice. */
  readonly onProgress: OnProgress = (p) => {
    this.state.hashing = p.phase === 'hashing' && p.done < p.total ? p.name : null;
    if (p.phase === 'uploading') this.state.files.set(p.name, { done: p.done, total: p.total });
    this.progress.onProgress(p);
  };

  /** SEND goes out now: an interruption before its reply cannot say whether the message was stored. */
  requesting(): void {
    this.state.requested = true;
  }

  /** The server holds the message now: from here on an interruption leaves it resumable. */
  stored(id: number, deadline: string | null, attachments: Array<{ name: string; size: number; uploaded?: number }>): void {
    this.state.messageId = id;
    this.state.deadline = deadline;
    for (const a of attachments) if (!this.state.files.has(a.name)) this.state.files.set(a.name, { done: a.uploaded ?? 0, total: a.size });
  }

  dispose(): void {
    process.off('SIGINT', this.onSigint);
  }

  private interrupted(): void {
    this.progress.stop();
    const { messageId: id, deadline, files, hashing, requested } = this.state;
    const lines: string[] = [];
    if (id === null && requested) {
      lines.push('siar: interrupted before the server confirmed the message. If it was stored, `siar outbox` lists it as sending; `siar cancel ID` withdraws it.');
    } else if (id === null) {
      lines.push(`siar: interrupted${hashing ? ` while hashing ${oneLine(hashing)}` : ''}; nothing was sent.`);
    } else {
      lines.push(`siar: interrupted. Message ${id} is not sent: nobody sees it until all its attachments are in.`);
      for (const [name, f] of files) {
        const pct = f.total > 0 ? ` (${Math.floor((f.done / f.total) * 100)} %)` : '';
        lines.push(`  ${oneLine(name)}: ${f.done >= f.total ? 'uploaded' : `${formatBytes(f.done)} of ${formatBytes(f.total)} sent${pct}`}`);
      }
      lines.push(howToContinue(id) + (deadline ? ` The server keeps it until ${deadline}.` : ''));
    }
    printErr('\n' + lines.join('\n') + '\n');
    process.exit(130);
  }
}

/** Who the remembered files belong to: message ids are per server and member. */
function owner(opts: ClientOptions): { server: string; username: string } {
  return { server: serverKey(opts.server), username: opts.user ?? '' };
}

/** Remembers a just-stored message's files, so `siar resume ID` finds them (best effort). */
export function rememberFiles(opts: ClientOptions, sent: SentMessage, files: LocalFile[]): void {
  try {
    new PendingUploads().remember({ ...owner(opts), messageId: sent.id, uploadDeadline: sent.uploadDeadline, files: pendingFiles(sent, files) });
  } catch (err) {
    printErr(`siar: could not remember the attachments' paths (${(err as Error).message}); \`siar resume\` will need --attach.\n`);
  }
}

/**
 * Before `send --attach` stores a new message: if an interrupted one with the same files waits,
 * say so (running the same command again sends, and uploads, everything a second time).
 */
export function noteUnsentTwin(opts: ClientOptions, files: LocalFile[]): void {
  const { server, username } = owner(opts);
  const ids = new PendingUploads().sameFiles(server, username, files.map((f) => f.sha256));
  for (const id of ids) {
    printErr(`siar: message ${id} with these attachments is still waiting to be sent: \`siar resume ${id}\` continues it, \`siar cancel ${id}\` withdraws it. Sending a new message.\n`);
  }
}

export function forgetFiles(opts: ClientOptions, id: number): void {
  try {
    new PendingUploads().forget(owner(opts).server, owner(opts).username, id);
  } catch { /* nothing to forget */ }
}

/** A failed `send --attach`: cancelled, or left resumable when the server could not be told. */
export function sendFailure(opts: ClientOptions, err: unknown): unknown {
  if (!(err instanceof TransferError)) return err;
  if (err.messageId !== undefined && err.cancelled === false) {
    return new CliError(`Message ${err.messageId} is not sent yet: ${err.message} (${err.code}). ${howToContinue(err.messageId)}`);
  }
  if (err.messageId !== undefined) forgetFiles(opts, err.messageId);
  return new CliError(`The message was not sent: ${err.message} (${err.code})`);
}

/** The lines `siar outbox` adds under its table for the messages still being sent. */
export function unsentLines(messages: MessageRecord[]): string {
  const lines: string[] = [];
  for (const m of messages) {
    if (m.state !== 'sending') continue;
    const parts = unsentAttachments(m).map((a) => `${oneLine(a.name)} ${formatBytes(a.uploaded ?? 0)} of ${formatBytes(a.size)}`);
    lines.push(`Message ${m.id} is still being sent${m.uploadDeadline ? ` (until ${m.uploadDeadline})` : ''}: ${parts.join(', ') || 'finishing'}. ${howToContinue(m.id)}`);
  }
  return lines.length > 0 ? '\n' + lines.join('\n') + '\n' : '';
}

type ResumeOpts = ClientOptions & { id: number; attach?: string[] };

export const unsentCommands = [
  defineCommand<ResumeOpts>({
    command: 'resume <id>',
    describe: 'continue sending a message whose attachments were interrupted (Ctrl-C, lost connection): each upload goes on from the server\'s copy',
    builder: (y: Argv) => withLogin(y)
      .positional('id', { type: 'number', demandOption: true, describe: 'message id (siar outbox)' })
      .option('attach', { type: 'string', array: true, describe: 'a file of the message again (repeatable); by default the paths remembered by send' }),
    handler: async (opts: ResumeOpts) => {
      const memory = new PendingUploads();
      const { server, username } = owner(opts);
      const progress = progressBars();
      const guard = new InterruptGuard(progress);
      try {
        await withClient(opts, async (client) => {
          let result;
          try {
            const m = await unsentMessage(client, opts.id);
            guard.stored(m.id, m.uploadDeadline ?? null, m.attachments);
            const files = await localFiles(m, memory.recall(server, username, m.id), opts.attach ?? [], guard.onProgress);
            result = await resumeUploads(client, m, files, guard.onProgress);
          } catch (err) {
            if (err instanceof TransferError) throw new CliError(`Message ${opts.id} is not sent yet: ${err.message} (${err.code}). ${howToContinue(opts.id)}`);
            if (!(err instanceof ResumeError)) throw err;
            if (err.kind === 'closed') memory.forget(server, username, opts.id);
            throw new CliError(err.kind === 'files' ? `${err.message} Give each such file with --attach PATH.` : err.message);
          } finally {
            progress.stop();
          }
          if (result.state === 'sent') memory.forget(server, username, opts.id);
          if (opts.json) {
            printJson(result);
            return;
          }
          const resumed = result.attachments.filter((a) => a.from > 0 && a.from < a.size).map((a) => `${oneLine(a.name)} from ${formatBytes(a.from)} of ${formatBytes(a.size)}`);
          print(`message ${result.id} ${result.state === 'sent' ? 'sent' : 'still sending'}${resumed.length ? ` (continued ${resumed.join(', ')})` : ''}\n`);
        });
      } finally {
        guard.dispose();
      }
    },
  }),
  defineCommand<ClientOptions & { id: number }>({
    command: 'cancel <id>',
    describe: 'withdraw a message still being sent (attachments not all uploaded): nobody receives it, its partial uploads are deleted',
    builder: (y: Argv) => withLogin(y).positional('id', { type: 'number', demandOption: true, describe: 'message id (siar outbox)' }),
    handler: async (opts: ClientOptions & { id: number }) => {
      await withClient(opts, async (client) => {
        await client.cancel(opts.id);
        forgetFiles(opts, opts.id);
        if (opts.json) printJson({ id: opts.id, state: 'cancelled' });
        else print(`message ${opts.id} cancelled: nobody will receive it, and its partial uploads are deleted\n`);
      });
    },
  }),
];

/**
 * What the terminal client's controller offers its screen modules (*-screen.ts): the state and
 * its actions, the session's typed calls, the attachment transfers, and the loads and moves more
 * than one screen makes.
 */
import type { AttachmentInfo, MessageRecord } from '../../protocol/index.js';
import type { ClientConfig } from '../config-store.js';
import type { SiarSession } from '../session.js';
import type { Action, ListName, State } from './model.js';

/**
 * What the TUI needs for attachments (issue #3's transfer client, adapted in transfers.ts):
 * sending a message together with its files, and fetching one attachment into a folder with its
 * checksum verified. Progress callbacks report bytes done and the total.
 */
export interface TuiTransfers {
  send(draft: { to?: string[]; all?: boolean; channel?: string; subject: string; body: string; files: string[] },
    onProgress: (fileIndex: number, done: number, total: number) => void): Promise<{ id: number; recipients: number }>;
  download(message: MessageRecord, attachment: AttachmentInfo, dir: string,
    onProgress: (done: number, total: number) => void): Promise<{ path: string }>;
  /**
   * Continues a message of the outbox still being sent, each upload from the server's offset, with
   * the files remembered when it was sent; resolves with its state ('sent' once the last is in).
   */
  resume(messageId: number, onProgress: (attachmentId: number, done: number, total: number) => void): Promise<{ state: string }>;
  /** Withdraws a message still being sent (CANCEL): nobody receives it; its partial uploads go. */
  cancel(messageId: number): Promise<void>;
}

/** How a compose screen opens: its addressees and subject, if any. */
export interface ComposeStart {
  to?: string[];
  all?: boolean;
  channel?: string;
  subject?: string;
}

export interface TuiHost {
  readonly state: State;
  dispatch(action: Action): void;
  /** The member's session: typed calls (send, inbox…) throw RemoteError or OfflineError. */
  readonly session: SiarSession;
  /** Attachments, when this build has a transfer client. */
  readonly transfers: TuiTransfers | null;
  /** Where "save attachments" proposes to save. */
  readonly downloadDir: string;
  /** The password typed at login, kept in memory for the forced change only. */
  loginPassword: string;
  now(): number;
  quit(): void;
  /** The remembered settings (server, username, a pending registration). */
  loadConfig(): ClientConfig | null;
  saveConfig(patch: Partial<ClientConfig>): void;
  /** Reloads one list of the main screen (nothing before login). */
  loadList(list: ListName): Promise<void>;
  loadAll(): void;
  openMessage(id: number, box: 'inbox' | 'outbox'): void;
  openCompose(start: ComposeStart): void;
  /** Compose a reply: to the sender (inbox), or to the same recipients (outbox). */
  reply(m: MessageRecord, box?: 'inbox' | 'outbox'): void;
  /** The login form for `username`, with a notice above it. */
  toLogin(username: string, notice: string | null): void;
}

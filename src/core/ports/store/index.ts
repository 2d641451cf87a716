/**
 * The store port: what the server needs from a store, by area (accounts.ts, messages.ts,
 * channels.ts, mail.ts, audit.ts); `Store` is all of them. Only src/adapters implements it (and
 * speaks SQL); a new store passes the contract suite in test/contract/store/.
 * Methods are async, for stores across a network, even though better-sqlite3 is synchronous.
 * Every method that changes state commits before its promise resolves.
 */

import type { AccountStore } from './accounts.js';
import type { AlertStore } from './alerts.js';
import type { AuditStore } from './audit.js';
import type { DueJobStore } from './due-jobs.js';
import type { ChannelGroupStore } from './channels.js';
import type { DeliveredAtCommit } from './delivered-at-commit.js';
import type { MailQueueStore } from './mail.js';
import type { MessageStore } from './messages.js';

export type * from './accounts.js';
export type * from './alerts.js';
export type * from './audit.js';
export type * from './due-jobs.js';
export type * from './channels.js';
export type * from './delivered-at-commit.js';
export type * from './mail.js';
export { AUDIENCE_SNAPSHOT_ABOVE, messageBytes, RECIPIENTS_PER_READ } from './messages.js';
export type * from './messages.js';
export { StoreError, isStoreError, type StoreFailure, type StoreErrorKind } from './errors.js';

export type { Page } from './page.js';

/** What a look at a database file (a backup copy, before it is restored) finds. */
export interface DatabaseReport {
  integrity: string;
  schemaVersion: number;
  users: number;
  members: number;
  messages: number;
  lastMessageId: number;
  pendingRegistrations: number;
  unsentMail: number;
  attachments: number;
}

/** A file store's copies (backups): how to look into one, and the newest schema this siar reads. */
export interface DatabaseFiles {
  /** Opens the file read-only and reports; throws when it is no database of this store. */
  inspect(file: string): DatabaseReport;
  schemaVersion: number;
}

/** A database page count report from an online backup. */
export interface BackupProgress {
  totalPages: number;
  remainingPages: number;
}

/** Every area of the store, and what the store as a whole has: an optional file backup, closing. */
export interface Store extends AccountStore, MessageStore, ChannelGroupStore, MailQueueStore, AuditStore, AlertStore, DueJobStore {
  /**
   * Optional capability of a store kept in one file (SQLite): writes a consistent copy of the whole
   * database to `destFile` while the store keeps serving. A store without it says in
   * `backupAdvice` how an administrator takes a consistent copy instead (BACKUP answers that).
   */
  backup?(destFile: string, onProgress?: (p: BackupProgress) => void): Promise<BackupProgress>;
  /** Without `backup`: the sentence telling the administrator how to back this store up. */
  readonly backupAdvice?: string;
  /** Optional capability (delivered-at-commit.ts): recipients recorded delivered in the storing transaction. */
  deliveredAtCommit?: DeliveredAtCommit['deliveredAtCommit'];

  close(): Promise<void>;
}

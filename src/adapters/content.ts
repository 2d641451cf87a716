/**
 * Which attachment-content adapter goes with which store (issue 19): content lives where every
 * node that shares the store can read it.
 *
 * - SQLite store (one node): files in the data directory (src/adapters/fs-content), as always.
 * - PostgreSQL store (one or several nodes): chunks in the same database (src/adapters/postgres/content.ts),
 *   so an attachment uploaded through one node downloads through any other after the first is gone.
 *
 * The composition root (SiarServer.start) calls this once with the store it opened.
 */
import type { AttachmentContent } from '../core/ports/content.js';
import type { Store } from '../core/ports/store.js';
import { FsContent } from './fs-content/fs-content.js';
import { PgContent } from './postgres/content.js';
import { PostgresStore } from './postgres/postgres-store.js';

export async function contentFor(store: Store, dataDir: string): Promise<AttachmentContent> {
  if (store instanceof PostgresStore) return PgContent.open(store.url);
  return new FsContent(dataDir);
}

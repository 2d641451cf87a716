/**
 * The attachment-content adapters every case in this folder runs against (issue 19): files in a
 * temp data dir, and PostgreSQL chunks in a fresh database on the server the store contract uses
 * (SIAR_TEST_PG_URL, or a private one; skipped without PostgreSQL, failing under CI).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { FsContent } from '../../../src/adapters/fs-content/fs-content.js';
import { PgContent, type PgContentOptions } from '../../../src/adapters/postgres/content.js';
import type { AttachmentContent } from '../../../src/core/ports/content.js';
import { requireCapability } from '../../helpers/capability.js';
import { freshPostgresDatabase, postgresMissing } from '../store/adapters.js';

export interface ContentAdapter {
  name: 'fs' | 'postgres';
  missing(): string | false;
  /** A fresh, empty content store, closed when the test ends. */
  open(t: Test): Promise<AttachmentContent>;
  /** Another instance on the same place as `content` (another node), closed when the test ends. */
  reopen(t: Test, content: AttachmentContent): Promise<AttachmentContent>;
}

const fsDirs = new WeakMap<AttachmentContent, string>();

const fs: ContentAdapter = {
  name: 'fs',
  missing: () => false,
  async open(t) {
    const dir = mkdtempSync(path.join(tmpdir(), 'siar-content-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const content = new FsContent(path.join(dir, 'data'));
    await content.init();
    fsDirs.set(content, content.dataDir);
    return content;
  },
  async reopen(_t, content) {
    const again = new FsContent(fsDirs.get(content)!);
    await again.init();
    return again;
  },
};

const pgUrls = new WeakMap<AttachmentContent, string>();

/** Small chunks in the cases (many rows, short tests); the 64 MiB case uses the default 1 MiB. */
export const TEST_CHUNK = 64 * 1024;

async function openPg(t: Test, url: string, opts: PgContentOptions = { chunkBytes: TEST_CHUNK }): Promise<PgContent> {
  const content = await PgContent.open(url, opts);
  pgUrls.set(content, url);
  // The database is dropped WITH (FORCE) at the end of the test; closing after that is harmless.
  t.teardown(() => content.close());
  return content;
}

const postgres: ContentAdapter = {
  name: 'postgres',
  missing: postgresMissing,
  async open(t) {
    return openPg(t, await freshPostgresDatabase(t));
  },
  async reopen(t, content) {
    return openPg(t, pgUrls.get(content)!);
  },
};

export const contentAdapters: readonly ContentAdapter[] = [fs, postgres];

/** The same cases for every adapter, each inside a subtest named after it. */
export function forEachContentAdapter(t: Test, cases: (t: Test, adapter: ContentAdapter) => void): void {
  for (const adapter of contentAdapters) {
    t.test(adapter.name, async (t) => {
      if (!requireCapability(t, `the ${adapter.name} attachment content`, adapter.missing())) return;
      cases(t, adapter);
    });
  }
}

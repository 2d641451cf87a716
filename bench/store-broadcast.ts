/**
 * What storing one broadcast costs the SQLite store, in this process (no sockets, no protocol): a
 * message to all N members, every one of them online (written delivered at the commit through
 * deliveredAtCommit, as the server does), timed from storeMessage's call to its resolution (the
 * storing transaction: what stands between SEND and its OK and first popup), then, where the store
 * commits an audience snapshot instead of rows (AUDIENCE_SNAPSHOT_ABOVE, issue 19), the
 * materialisation the storing node runs after its pushes (materialiseRecipients), timed apart.
 * The same script runs against an older tree (without snapshots it reports no materialisation).
 *
 *   node --import tsx bench/store-broadcast.ts [--members 10000] [--broadcasts 30] [--synchronous NORMAL|FULL]
 *
 * Not part of `npm run bench`: a quick before/after of the store alone, on whatever machine it runs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteStore } from '../src/adapters/sqlite/sqlite-store.js';
import { seedMembers } from './lib/seed.js';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '10000' },
    broadcasts: { type: 'string', default: '30' },
    synchronous: { type: 'string', default: 'NORMAL' },
  },
});
const MEMBERS = Number(values.members);
const BROADCASTS = Number(values.broadcasts);
const WARM_UP = 2;

const quantile = (sorted: number[], q: number): number =>
  Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]! * 10) / 10;

async function main(): Promise<void> {
  const synchronous = values.synchronous === 'FULL' ? 'FULL' : 'NORMAL';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'siar-bench-broadcast-store-'));
  await seedMembers(dir, MEMBERS + 1);
  const store = SqliteStore.open(path.join(dir, 'siar.db'), { synchronous, checkpointInBackground: true });
  try {
    await store.backgroundReady();
    const [sender, ...ids] = await store.listActiveMemberIds();
    const writer = store.deliveredAtCommit!(() => true);
    const storing: number[] = [];
    const materialising: number[] = [];
    const body = 'b'.repeat(512);
    for (let i = 0; i < WARM_UP + BROADCASTS; i++) {
      const t0 = performance.now();
      const message = await writer.storeMessage({ senderId: sender!, audience: 'all', recipientIds: ids, subject: `broadcast ${i}`, body });
      const t1 = performance.now();
      // The storing node's write after its pushes (absent before audience snapshots).
      if (message.recipientRowsPending) await store.materialiseRecipients(message.id, ids);
      const t2 = performance.now();
      if (i < WARM_UP) continue;
      storing.push(t1 - t0);
      if (message.recipientRowsPending) materialising.push(t2 - t1);
    }
    storing.sort((a, b) => a - b);
    materialising.sort((a, b) => a - b);
    const result = {
      members: MEMBERS, broadcasts: BROADCASTS, synchronous,
      storeMs: { p50: quantile(storing, 0.5), p99: quantile(storing, 0.99), max: quantile(storing, 1) },
      materialiseMs: materialising.length === 0 ? null
        : { p50: quantile(materialising, 0.5), p99: quantile(materialising, 0.99), max: quantile(materialising, 1) },
    };
    process.stdout.write(`${JSON.stringify(result)}\n`);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();

/**
 * Scenario 3's context figure: the store by itself, in this process, without sockets or protocol —
 * `senders` callers in a closed loop on SqliteStore.storeMessage (one outstanding each, so group
 * commit batches them as the server's do), direct messages to an online recipient (written
 * delivered at the commit, as the server does), the WAL checkpoints in their worker as in the server.
 *
 * `withoutMemberIndexes` drops the two indexes keyed by member (a sender's outbox, a recipient's
 * inbox) from the run's own database: the figure then shows what those scattered index pages cost.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { SqliteStore } from '../../src/adapters/sqlite/sqlite-store.js';
import { cpuSince } from './env.js';
import { seedMembers } from './seed.js';
import { makeTempDir } from './server.js';

/** The indexes whose entries for one message land on pages of their own: keyed by sender, by recipient. */
export const MEMBER_INDEXES = ['messages_sender', 'recipients_inbox'] as const;

export interface StoreAloneRun {
  synchronous: 'NORMAL' | 'FULL';
  withoutMemberIndexes: boolean;
  messagesPerSec: number;
  /** CPU of this process (both threads) per message, µs. */
  cpuMicrosPerMessage: number;
  /** write(2)-family calls and bytes per message (Linux /proc/self/io: WAL frames and checkpoint copies); NaN elsewhere. */
  writeCallsPerMessage: number;
  writtenKiBPerMessage: number;
}

/** This process's write calls and bytes so far (both threads), or null off Linux. */
function writeCounters(): { calls: number; bytes: number } | null {
  try {
    const io = readFileSync('/proc/self/io', 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(io)?.[1] ?? NaN);
    return { calls: field('syscw'), bytes: field('wchar') };
  } catch {
    return null;
  }
}

export async function runStoreAlone(opts: {
  synchronous: 'NORMAL' | 'FULL'; senders: number; durationMs: number; bodyChars: number; withoutMemberIndexes?: boolean;
}): Promise<StoreAloneRun> {
  const withoutMemberIndexes = opts.withoutMemberIndexes ?? false;
  const dir = makeTempDir(`store-alone-${opts.synchronous.toLowerCase()}`);
  const names = await seedMembers(dir, opts.senders);
  const store = SqliteStore.open(path.join(dir, 'siar.db'), { synchronous: opts.synchronous, checkpointInBackground: true });
  try {
    if (withoutMemberIndexes) for (const index of MEMBER_INDEXES) store.db.exec(`DROP INDEX ${index}`);
    await store.backgroundReady();
    const ids = await Promise.all(names.map(async (name) => (await store.getUserByUsername(name))!.id));
    const body = 'd'.repeat(opts.bodyChars);
    let stored = 0;
    let running = true;
    const sender = async (i: number): Promise<void> => {
      while (running) {
        await (store.deliveredAtCommit?.(() => true) ?? store).storeMessage({
          senderId: ids[i]!, audience: 'direct', recipientIds: [ids[(i + 1) % ids.length]!], subject: `d${stored}`, body,
        });
        stored++;
      }
    };
    const cpu = cpuSince();
    const io0 = writeCounters();
    const t0 = performance.now();
    const loops = ids.map((_, i) => sender(i));
    await new Promise((resolve) => setTimeout(resolve, opts.durationMs));
    running = false;
    const n = stored;
    const seconds = (performance.now() - t0) / 1000;
    const cpuMicros = cpu();
    const io1 = writeCounters();
    await Promise.all(loops);
    return {
      synchronous: opts.synchronous, withoutMemberIndexes, messagesPerSec: n / seconds, cpuMicrosPerMessage: cpuMicros / n,
      writeCallsPerMessage: io0 && io1 ? (io1.calls - io0.calls) / n : NaN,
      writtenKiBPerMessage: io0 && io1 ? (io1.bytes - io0.bytes) / 1024 / n : NaN,
    };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Scenario 3's context figure: the store by itself, in this process, without sockets or protocol —
 * `senders` callers in a closed loop on SqliteStore.storeMessage (one outstanding each, so group
 * commit batches them as the server's do), direct messages to an online recipient (written
 * delivered at the commit, as the server does), the WAL checkpoints in their worker as in the server.
 */
import path from 'node:path';
import { SqliteStore } from '../../src/server/store/sqlite-store.js';
import { rmSync } from 'node:fs';
import { seedMembers } from './seed.js';
import { makeTempDir } from './server.js';

export interface StoreAloneRun {
  synchronous: 'NORMAL' | 'FULL';
  messagesPerSec: number;
  /** CPU of this process (both threads) per message, µs. */
  cpuMicrosPerMessage: number;
}

export async function runStoreAlone(opts: {
  synchronous: 'NORMAL' | 'FULL'; senders: number; durationMs: number; bodyChars: number;
}): Promise<StoreAloneRun> {
  const dir = makeTempDir(`store-alone-${opts.synchronous.toLowerCase()}`);
  const names = await seedMembers(dir, opts.senders);
  const store = SqliteStore.open(path.join(dir, 'siar.db'), { synchronous: opts.synchronous, checkpointInBackground: true });
  try {
    await store.backgroundReady();
    const ids = await Promise.all(names.map(async (name) => (await store.getUserByUsername(name))!.id));
    const body = 'd'.repeat(opts.bodyChars);
    let stored = 0;
    let running = true;
    const sender = async (i: number): Promise<void> => {
      while (running) {
        await store.storeMessage({
          senderId: ids[i]!, audience: 'direct', recipientIds: [ids[(i + 1) % ids.length]!], subject: `d${stored}`, body,
          pushedAfterCommit: () => true,
        });
        stored++;
      }
    };
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const loops = ids.map((_, i) => sender(i));
    await new Promise((resolve) => setTimeout(resolve, opts.durationMs));
    running = false;
    const n = stored;
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    await Promise.all(loops);
    return { synchronous: opts.synchronous, messagesPerSec: n / seconds, cpuMicrosPerMessage: (cpu.user + cpu.system) / n };
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

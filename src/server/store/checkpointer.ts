/**
 * Write-ahead-log checkpoints in a worker thread. SQLite's automatic checkpoint runs inside the
 * commit that crosses the threshold, so every thousand pages one write (and every request waiting
 * behind it) paid for copying the log into the database file and syncing it: a few percent of the
 * server's time under load and its worst latencies (bench/README.md, scenario 7). The worker
 * copies them concurrently instead; the writer keeps a larger automatic checkpoint as a backstop,
 * which finds the pages already copied and only restarts the log.
 */
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

/** What checkpoint-worker.mjs is given. */
export interface CheckpointWorkerData {
  file: string;
  intervalMs: number;
  synchronous: 'NORMAL' | 'FULL';
}

/** The writer's own checkpoint threshold (pages of 4 KiB) while the worker runs: 16 MiB of log at most. */
export const BACKSTOP_CHECKPOINT_PAGES = 4000;

export class BackgroundCheckpointer {
  private stopped = false;
  /** True once the worker has its connection open; false if it failed to start (the backstop then does the work). */
  readonly ready: Promise<boolean>;

  private constructor(private readonly worker: Worker) {
    this.ready = new Promise<boolean>((resolve) => {
      worker.once('message', (m) => resolve(m === 'ready'));
      worker.once('error', () => resolve(false));
      worker.once('exit', () => resolve(false));
    });
  }

  static start(data: CheckpointWorkerData): BackgroundCheckpointer {
    const worker = new Worker(new URL('./checkpoint-worker.mjs', import.meta.url), { workerData: data });
    // If the worker fails, the writer's backstop checkpoint still bounds the log.
    worker.on('error', () => undefined);
    // The server waits for `ready`; after that the worker must not keep a finished process alive.
    worker.unref();
    return new BackgroundCheckpointer(worker);
  }

  /** Stops the worker and closes its connection (before the writer's, which then cleans the log up). */
  async stop(timeoutMs = 2000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const exited = once(this.worker, 'exit').catch(() => undefined);
    this.worker.postMessage('stop');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), timeoutMs); });
    if ((await Promise.race([exited, late])) === 'late') await this.worker.terminate();
    clearTimeout(timer);
  }
}

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

/** What checkpoint-worker.ts is given. */
export interface CheckpointWorkerData {
  file: string;
  intervalMs: number;
  synchronous: 'NORMAL' | 'FULL';
}

/**
 * What the worker's last checkpoint that changed anything found: frames in the log and frames
 * copied into the database file (all of them: the writer restarts the log from its start at its
 * next write), and when (epoch ms). Sent only on change, so a report that stays the latest while the
 * writer is idle describes the log as it is.
 */
export interface CheckpointProgress {
  logFrames: number;
  checkpointedFrames: number;
  at: number;
}

/** The writer's own checkpoint threshold (pages of 4 KiB) while the worker runs: 16 MiB of log at most. */
export const BACKSTOP_CHECKPOINT_PAGES = 4000;

/** The worker's own module: compiled beside this one (dist/), or the .ts source under tsx (tests, bench). */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const WORKER_FILE = new URL(FROM_SOURCE ? './checkpoint-worker.ts' : './checkpoint-worker.js', import.meta.url);

/** Node 20 starts a worker without the parent's loaders: from the sources, the worker registers tsx itself. */
function spawnWorker(data: CheckpointWorkerData): Worker {
  if (!FROM_SOURCE) return new Worker(WORKER_FILE, { workerData: data });
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_FILE.href)}); })`;
  return new Worker(boot, { eval: true, workerData: data });
}

export class BackgroundCheckpointer {
  private stopped = false;
  private latest: CheckpointProgress | null = null;
  /** True once the worker has its connection open; false if it failed to start (the backstop then does the work). */
  readonly ready: Promise<boolean>;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (m: unknown) => {
      if (typeof m === 'object' && m !== null && 'logFrames' in m) this.latest = m as CheckpointProgress;
    });
    this.ready = new Promise<boolean>((resolve) => {
      worker.once('message', (m) => resolve(m === 'ready'));
      worker.once('error', () => resolve(false));
      worker.once('exit', () => resolve(false));
    });
  }

  static start(data: CheckpointWorkerData): BackgroundCheckpointer {
    const worker = spawnWorker(data);
    // If the worker fails, the writer's backstop checkpoint still bounds the log.
    worker.on('error', () => undefined);
    // The server waits for `ready`; after that the worker must not keep a finished process alive.
    worker.unref();
    return new BackgroundCheckpointer(worker);
  }

  /** The worker's last report, or null before its first checkpoint that found anything. */
  get progress(): CheckpointProgress | null {
    return this.latest;
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

/**
 * The sha256 of an upload, computed on a worker thread. Node's Hash.update runs on the thread that
 * calls it, and the main thread serves every connection: with 50 uploads at once it spent ≈ 0.7 s
 * per GiB hashing while the second core had time to spare (bench/README.md, scenario 4).
 *
 * - One thread hashes for every upload of the process; it starts on first use and ends when the
 *   last TransferService using it stops (acquireHashThread). It never keeps a process alive.
 * - Bytes are copied into a batch (batchBytes) whose memory is then moved, not copied, to the
 *   thread. Messages on one port arrive in order, so each hash sees its bytes in order.
 * - Bounded: update() returns false once maxPendingBytes are copied but not yet hashed, and
 *   onDrain says when to go on — the caller pauses its socket in between.
 * - digest() resolves with the hex digest once every byte is hashed; it rejects if the thread
 *   failed (the upload then fails; the next hash starts a new thread).
 * - A resumed upload's earlier bytes are read from its partial file on the thread itself
 *   (updateFromFile); meanwhile the other hashes wait their turn (≈ 0.7 s per GiB resumed).
 */
import { Worker } from 'node:worker_threads';

const KiB = 1024;

interface HashEvents {
  ack(bytes: number): void;
  digest(hex: string): void;
  fail(err: Error): void;
}

type FromThread =
  | { op: 'ack'; id: number; bytes: number }
  | { op: 'digest'; id: number; hex: string }
  | { op: 'error'; id: number; message: string };

class HashThread {
  private worker: Worker | null = null;
  private readonly hashes = new Map<number, HashEvents>();
  /** Hashes the thread has work or an answer pending for. */
  private readonly busy = new Set<number>();
  private nextId = 1;
  private users = 0;

  register(events: HashEvents): number {
    const id = this.nextId++;
    this.hashes.set(id, events);
    return id;
  }

  forget(id: number): void {
    this.hashes.delete(id);
    this.idle(id);
  }

  /**
   * Sends to the thread; while it owes an answer to any hash it keeps the process alive. Never
   * throws (it runs in socket handlers): a thread that cannot be started fails the hash instead.
   */
  post(message: { op: string; id: number; [field: string]: unknown }, transfer: ArrayBuffer[] = []): void {
    let worker: Worker;
    try {
      worker = this.start();
      if (message.op !== 'drop' && !this.busy.has(message.id)) {
        this.busy.add(message.id);
        if (this.busy.size === 1) worker.ref();
      }
      worker.postMessage(message, transfer);
    } catch (err) {
      const events = this.hashes.get(message.id);
      this.forget(message.id);
      events?.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private idle(id: number): void {
    if (this.busy.delete(id) && this.busy.size === 0) this.worker?.unref();
  }

  acquire(): () => Promise<void> {
    this.users++;
    let released = false;
    return async () => {
      if (released) return;
      released = true;
      if (--this.users === 0) await this.stop();
    };
  }

  /** Ends the thread; hashes still waiting fail. */
  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.lost(worker, new Error('The hash thread was stopped.'));
    await worker.terminate();
  }

  private start(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL('./hash-worker.mjs', import.meta.url));
    worker.on('message', (m: FromThread) => {
      const events = this.hashes.get(m.id);
      if (!events) return;
      if (m.op === 'ack') {
        events.ack(m.bytes);
      } else {
        this.hashes.delete(m.id);
        this.idle(m.id);
        if (m.op === 'digest') events.digest(m.hex);
        else events.fail(new Error(`Hashing failed: ${m.message}`));
      }
    });
    worker.on('error', (err) => this.lost(worker, err));
    worker.on('exit', (code) => this.lost(worker, new Error(`The hash thread exited (code ${code}).`)));
    // After the listeners (a 'message' listener refs the port again): the thread never keeps a process alive.
    worker.unref();
    this.worker = worker;
    return worker;
  }

  /** The thread is gone: every hash it had fails, and the next one starts a new thread. */
  private lost(worker: Worker, err: Error): void {
    if (this.worker !== worker) return;
    this.worker = null;
    const all = [...this.hashes.values()];
    this.hashes.clear();
    this.busy.clear();
    for (const events of all) events.fail(err);
  }
}

const thread = new HashThread();

/** Holds the hash thread for a user (a TransferService); the returned function lets go of it. */
export function acquireHashThread(): () => Promise<void> {
  return thread.acquire();
}

export interface UploadHashOptions {
  /** Bytes gathered before they go to the thread (default 256 KiB). */
  batchBytes?: number;
  /** update() asks the caller to pause past this many bytes not yet hashed (default 1 MiB). */
  maxPendingBytes?: number;
}

export class UploadHash {
  /** Called once bytes not yet hashed fall below maxPendingBytes after update() returned false. */
  onDrain: (() => void) | null = null;
  private readonly id: number;
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  /** Bytes posted to the thread and not yet acknowledged. */
  private posted = 0;
  private needDrain = false;
  private done = false;
  /** Whether the thread has heard of this hash (it then holds state to drop). */
  private posting = false;
  private failure: Error | null = null;
  private readonly result: Promise<string>;
  private settle!: { resolve(hex: string): void; reject(err: Error): void };
  private readonly batchBytes: number;
  private readonly maxPendingBytes: number;

  constructor(opts: UploadHashOptions = {}) {
    this.batchBytes = opts.batchBytes ?? 256 * KiB;
    this.maxPendingBytes = Math.max(opts.maxPendingBytes ?? 1024 * KiB, this.batchBytes);
    this.result = new Promise<string>((resolve, reject) => { this.settle = { resolve, reject }; });
    this.result.catch(() => undefined); // read through digest(); a failure nobody asks about is not unhandled
    this.id = thread.register({
      ack: (bytes) => {
        this.posted -= bytes;
        if (this.needDrain && this.pending < this.maxPendingBytes) {
          this.needDrain = false;
          this.onDrain?.();
        }
      },
      digest: (hex) => this.settle.resolve(hex),
      fail: (err) => {
        this.failure = err;
        this.settle.reject(err);
        // A caller waiting to resume must not wait for an ack that will not come.
        if (this.needDrain) {
          this.needDrain = false;
          this.onDrain?.();
        }
      },
    });
  }

  /** Bytes taken and not yet hashed. */
  get pending(): number {
    return this.posted + this.chunkBytes;
  }

  /** Takes a chunk (copied before update returns the next time a batch fills; do not reuse it). False: pause until onDrain. */
  update(chunk: Buffer): boolean {
    if (this.done || this.failure) return true;
    this.chunks.push(chunk);
    this.chunkBytes += chunk.length;
    if (this.chunkBytes >= this.batchBytes) this.flush();
    if (this.pending < this.maxPendingBytes) return true;
    this.needDrain = true;
    return false;
  }

  /** Hashes the first `length` bytes of a file first (a resumed upload's earlier bytes), on the thread. */
  updateFromFile(file: string, length: number): void {
    if (this.done || this.failure || length <= 0) return;
    this.flush();
    this.posting = true;
    thread.post({ op: 'file', id: this.id, file, length });
  }

  /** The hex digest of every byte given; no update after it. */
  digest(): Promise<string> {
    if (!this.done && !this.failure) {
      this.done = true;
      this.flush();
      this.posting = true;
      thread.post({ op: 'digest', id: this.id });
    }
    return this.result;
  }

  /** The upload ended without a digest: the thread forgets this hash. */
  abandon(): void {
    if (this.done) return;
    this.done = true;
    this.chunks = [];
    this.chunkBytes = 0;
    if (this.posting && !this.failure) thread.post({ op: 'drop', id: this.id });
    thread.forget(this.id);
    this.settle.reject(new Error('The hash was abandoned.'));
  }

  private flush(): void {
    if (this.chunkBytes === 0 || this.failure) return;
    // A buffer of its own (never Node's shared pool), so its memory can move to the thread.
    const data = Buffer.allocUnsafeSlow(this.chunkBytes);
    let at = 0;
    for (const c of this.chunks) at += c.copy(data, at);
    this.posted += this.chunkBytes;
    this.chunks = [];
    this.chunkBytes = 0;
    this.posting = true;
    thread.post({ op: 'update', id: this.id, data }, [data.buffer]);
  }
}

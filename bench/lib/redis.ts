/**
 * Redis for the broadcast comparison: finds (or installs, with apt-get) redis-server, starts it on a
 * free loopback port with no persistence, and speaks RESP by hand over `net` — subscribers and a
 * publisher as lean as the siar clients, so both sides pay the same harness costs.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { progress, sleep } from './env.js';
import { freePort, readCpuSeconds, readProcStatus } from './server.js';

/** Path of redis-server, installing the Debian package when missing and allowed; null with a reason otherwise. */
export function ensureRedis(): { path: string; version: string } | { path: null; reason: string } {
  const find = (): string | null => {
    try {
      return execFileSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' }).trim() || null;
    } catch {
      return null;
    }
  };
  let bin = find();
  if (!bin && process.env.BENCH_NO_INSTALL !== '1') {
    progress('redis', 'redis-server not found; installing the Debian package (apt-get install -y redis-server)');
    try {
      execFileSync('sh', ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server)'], { stdio: ['ignore', 'ignore', 'inherit'] });
    } catch (err) {
      return { path: null, reason: `redis-server is not installed and apt-get failed: ${String(err)}` };
    }
    bin = find();
  }
  if (!bin) return { path: null, reason: 'redis-server is not installed (BENCH_NO_INSTALL=1 or no apt-get)' };
  const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
  return { path: bin, version };
}

export class RedisProcess {
  private constructor(readonly child: ChildProcess, readonly port: number) {}

  get pid(): number {
    return this.child.pid!;
  }

  static async start(bin: string): Promise<RedisProcess> {
    const port = await freePort();
    const child = spawn(bin, [
      '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--protected-mode', 'no', '--daemonize', 'no', '--loglevel', 'warning', '--maxclients', '19000',
      // Never drop a subscriber for a full output buffer: siar does not drop them either (below 8 MiB).
      '--client-output-buffer-limit', 'pubsub 0 0 0',
    ], { stdio: ['ignore', 'ignore', 'inherit'] });
    const r = new RedisProcess(child, port);
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
      try {
        const c = await RespClient.connect(port);
        const pong = await c.command(['PING']);
        c.close();
        if (pong === 'PONG') return r;
      } catch { /* not yet */ }
      await sleep(100);
    }
    child.kill('SIGKILL');
    throw new Error('redis-server did not answer PING');
  }

  rssKiB(): number {
    return readProcStatus(this.pid)?.rssKiB ?? NaN;
  }

  cpuSeconds(): number {
    return readCpuSeconds(this.pid);
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

type RespValue = string | number | Buffer | null | RespValue[] | Error;

/** Incremental RESP2 parser: feed chunks, get complete values. Bulk strings come back as Buffers. */
export class RespParser {
  private buf: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): RespValue[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: RespValue[] = [];
    let pos = 0;
    for (;;) {
      const r = this.parse(pos);
      if (r === null) break;
      out.push(r.value);
      pos = r.next;
    }
    this.buf = pos >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(pos);
    return out;
  }

  private parse(pos: number): { value: RespValue; next: number } | null {
    if (pos >= this.buf.length) return null;
    const eol = this.buf.indexOf('\r\n', pos);
    if (eol === -1) return null;
    const type = this.buf[pos];
    const line = this.buf.toString('latin1', pos + 1, eol);
    const after = eol + 2;
    switch (type) {
      case 0x2b: return { value: line, next: after }; // +
      case 0x2d: return { value: new Error(line), next: after }; // -
      case 0x3a: return { value: Number(line), next: after }; // :
      case 0x24: { // $
        const len = Number(line);
        if (len < 0) return { value: null, next: after };
        if (this.buf.length < after + len + 2) return null;
        return { value: this.buf.subarray(after, after + len), next: after + len + 2 };
      }
      case 0x2a: { // *
        const n = Number(line);
        if (n < 0) return { value: null, next: after };
        const items: RespValue[] = [];
        let p = after;
        for (let i = 0; i < n; i++) {
          const r = this.parse(p);
          if (r === null) return null;
          items.push(r.value);
          p = r.next;
        }
        return { value: items, next: p };
      }
      default:
        throw new Error(`bad RESP type byte ${type}`);
    }
  }
}

export function encodeCommand(parts: (string | Buffer)[]): Buffer {
  const chunks: Buffer[] = [Buffer.from(`*${parts.length}\r\n`)];
  for (const p of parts) {
    const b = typeof p === 'string' ? Buffer.from(p) : p;
    chunks.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(chunks);
}

/** A RESP connection: commands answered in order; pub/sub messages handed to onMessage. */
export class RespClient {
  private readonly parser = new RespParser();
  private readonly waiting: ((v: RespValue) => void)[] = [];
  /** Pub/sub `message` payloads with the arrival time of their chunk. */
  onMessage: ((payload: Buffer, at: number) => void) | null = null;
  private subscribed = false;

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      const at = performance.now();
      for (const v of this.parser.push(chunk)) {
        if (this.subscribed && Array.isArray(v) && v.length === 3 && Buffer.isBuffer(v[0]) && v[0].toString() === 'message') {
          this.onMessage?.(v[2] as Buffer, at);
          continue;
        }
        this.waiting.shift()?.(v);
      }
    });
    socket.on('error', () => undefined);
  }

  static connect(port: number, localAddress?: string): Promise<RespClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve(new RespClient(socket));
      });
      socket.once('error', reject);
    });
  }

  command(parts: (string | Buffer)[]): Promise<RespValue> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.socket.write(encodeCommand(parts));
    });
  }

  /** SUBSCRIBE and wait for the confirmation. */
  async subscribe(channel: string): Promise<void> {
    this.subscribed = true;
    const reply = await this.command(['SUBSCRIBE', channel]);
    if (!Array.isArray(reply)) throw new Error(`SUBSCRIBE failed: ${String(reply)}`);
  }

  close(): void {
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }
}

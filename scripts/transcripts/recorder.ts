/**
 * Records `nc`-style sessions with a real siar server: each session is a raw TCP connection
 * that types protocol lines and records what comes back, as `>` and `<` lines of a transcript
 * block. Steps are deterministic: after each one every open session is synchronised with a hidden
 * PING (pushes a command caused on any connection are written before that PING's reply), and the
 * lines are filed session by session, the acting one first. Asynchronous pushes (mail sent, an
 * upload committed) are awaited by name. Secrets (passwords, tokens, tickets) and shadow ports are
 * replaced by placeholders when the block is rendered.
 */
import { once } from 'node:events';
import net from 'node:net';

/** One fenced code block of a document, filled by the sessions bound to it. */
export class Block {
  readonly lines: string[] = [];
  constructor(readonly name: string) {}

  /** A line that is not protocol: a comment for the reader. */
  note(...text: string[]): void {
    this.lines.push(...text);
  }
}

const SYNC_ID = 'sync';
const STEP_TIMEOUT_MS = 20_000;

/** One control connection, typed into by the recording. */
export class Session {
  private buffer = '';
  /** Lines received and not yet filed into a block. */
  private unfiled: string[] = [];
  private waiters: Array<() => void> = [];
  private closed = false;
  token = '';

  private constructor(
    private readonly socket: net.Socket,
    private block: Block | null,
    private prefix: string,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      let nl;
      while ((nl = this.buffer.indexOf('\n')) !== -1) {
        this.unfiled.push(this.buffer.slice(0, nl).replace(/\r$/, ''));
        this.buffer = this.buffer.slice(nl + 1);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async open(port: number, block: Block | null, prefix = ''): Promise<Session> {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const s = new Session(socket, block, prefix);
    await s.waitFor((l) => l.startsWith('*|HELLO|'));
    s.file();
    return s;
  }

  /** Files this session's lines into `block` (null: not recorded), as `prefix> …` / `prefix< …`. */
  bind(block: Block | null, prefix = ''): void {
    this.block = block;
    this.prefix = prefix;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Records a typed line, writes it and resolves with the final reply (OK or ERR) to it. */
  async type(line: string): Promise<string> {
    this.file();
    this.block?.lines.push(`${this.prefix}> ${line}`);
    const from = this.unfiled.length;
    this.socket.write(`${line}\n`);
    const reply = await this.waitFor((l) => /^[^*|][^|]*\|(OK|ERR)(\||$)/.test(l), from);
    const token = /\|token=([^|]+)/.exec(reply)?.[1];
    if (token) this.token = token;
    return reply;
  }

  /** Resolves with the first unfiled line (from index `from`) that matches; fails after a deadline. */
  async waitFor(match: (line: string) => boolean, from = 0): Promise<string> {
    const deadline = Date.now() + STEP_TIMEOUT_MS;
    for (;;) {
      const found = this.unfiled.slice(from).find(match);
      if (found !== undefined) return found;
      if (this.closed) throw new Error(`the connection closed before the awaited line; got:\n${this.unfiled.join('\n')}`);
      if (Date.now() > deadline) throw new Error(`no awaited line within ${STEP_TIMEOUT_MS} ms; got:\n${this.unfiled.join('\n')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  }

  /** A PING nobody sees: once its reply is in, everything written to this socket before it is too. */
  async sync(): Promise<void> {
    if (this.closed) return;
    const from = this.unfiled.length;
    this.socket.write(`${SYNC_ID}|PING\n`);
    const reply = await this.waitFor((l) => l.startsWith(`${SYNC_ID}|`), from).catch((err: Error) => {
      if (this.closed) return null;
      throw err;
    });
    if (reply !== null) this.unfiled.splice(this.unfiled.indexOf(reply), 1);
  }

  /** Moves the received lines into the bound block. */
  file(): void {
    for (const line of this.unfiled.splice(0)) this.block?.lines.push(`${this.prefix}< ${line}`);
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** Lines awaited after a step: a session and a pattern its next lines must include. */
export type Awaited = Array<[Session, RegExp]>;

/** The sessions of one recorded scene, stepped one line at a time. */
export class Recording {
  private readonly sessions: Session[] = [];
  private readonly secrets = new Map<string, string>();
  private readonly ports = new Map<number, string>();
  private readonly varying: Array<[RegExp, string]> = [];

  constructor(readonly port: number) {}

  async session(block: Block | null, prefix = ''): Promise<Session> {
    const s = await Session.open(this.port, block, prefix);
    this.sessions.push(s);
    return s;
  }

  /** `value` is shown as `placeholder` in every block. */
  secret(value: string, placeholder: string): void {
    if (value) this.secrets.set(value, placeholder);
  }

  /** What matches `pattern` changes from run to run (a measurement): shown as `replacement` in every block. */
  varies(pattern: RegExp, replacement: string): void {
    this.varying.push([pattern, replacement]);
  }

  /** A shadow listener's port: shown as PORT1, PORT2, … in order of appearance. */
  shadowPort(port: number): string {
    let name = this.ports.get(port);
    if (!name) this.ports.set(port, (name = `PORT${this.ports.size + 1}`));
    return name;
  }

  /** `who` types `line`; waits for its reply and the awaited pushes; files every session's lines. */
  async step(who: Session, line: string, awaited: Awaited = []): Promise<string> {
    const reply = await who.type(line);
    await this.settle(who, awaited);
    return reply;
  }

  /** A data connection, as `nc -N` makes it: sends `input`, shuts down writing, records what comes back. */
  async dataConnection(block: Block, label: string, port: number, input: Buffer | string, awaited: Awaited = []): Promise<string> {
    block.lines.push(`$ ${label}`);
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const chunks: Buffer[] = [];
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.end(input);
    await once(socket, 'close');
    const output = Buffer.concat(chunks).toString('utf8');
    block.lines.push(...output.replace(/\n$/, '').split('\n'));
    await this.settle(null, awaited);
    return output;
  }

  private async settle(who: Session | null, awaited: Awaited): Promise<void> {
    for (const [s, pattern] of awaited) await s.waitFor((l) => pattern.test(l));
    await Promise.all(this.sessions.map((s) => s.sync()));
    if (who) who.file();
    for (const s of this.sessions) s.file();
  }

  close(): void {
    for (const s of this.sessions) s.close();
  }

  /** The block's lines with every secret and shadow port replaced by its placeholder. */
  render(block: Block): string[] {
    const secrets = [...this.secrets].sort((a, b) => b[0].length - a[0].length);
    return block.lines.map((line) => {
      let out = line;
      for (const [value, placeholder] of secrets) out = out.split(value).join(placeholder);
      for (const [pattern, replacement] of this.varying) out = out.replace(pattern, replacement);
      return out.replace(/127\.0\.0\.1([: ])(\d+)/g, (whole, sep: string, port: string) => {
        const name = this.ports.get(Number(port));
        return name ? `127.0.0.1${sep}${name}` : whole;
      });
    });
  }
}

/**
 * Hostile input against a live server (issue 7 §1): 50 connections at once, spread over 20
 * loopback addresses, send thousands of generated frames — valid commands with arbitrary
 * arguments, arbitrary text and bytes, invalid UTF-8, bad escapes, empty lines, pipelined bursts,
 * random binary, lines over the frame limit, frames cut off (then waited on, closed, or reset),
 * and hostile data connections to shadow listeners — in repeated rounds, each followed by a peer
 * that asks and never reads.
 *
 * The server must never crash or answer INTERNAL; it answers every complete frame exactly once,
 * in order, with the error code the codec itself predicts for a bad one (fast-check generates
 * the input; the codec is the oracle); it closes a connection only with a closing error and only
 * when the policy says so (10 bad frames, an over-long line, an unfinished frame timing out, a
 * peer that does not read); after each round its connections and shadow listeners return to 0,
 * the process's file descriptors to their baseline, and its heap after GC stays flat; and a fresh
 * client is served normally at the end. Further tests: a frame dribbled a byte at a time is still
 * cut at the frame deadline, and not-logged-in connections are capped per address.
 *
 * Size: 50 connections × 3 rounds × 20 actions by default (well under a minute on 2 idle cores).
 * SIAR_HAMMER_LONG=1 runs 100 × 10 × 40 (with `npx tap --timeout=3600`); SIAR_HAMMER_WORKERS, _ROUNDS, _ACTIONS set each, and
 * SIAR_HAMMER_SEED replays another input (the seed of a failure is in the test's output).
 */
import { readdirSync } from 'node:fs';
import net from 'node:net';
import fc from 'fast-check';
import t from 'tap';
import { SiarClient } from '../../src/client/connection.js';
import {
  SiarError, decodeRequest, decodeServerFrame, encodeRequest, salvageId, type ArgInput,
} from '../../src/protocol/index.js';
import { createLogger } from '../../src/server/logger.js';
import { SiarServer } from '../../src/server/server.js';
import { DEFAULT_THROTTLE } from '../../src/server/throttle.js';
import { encodeDeclaration } from '../../src/transfer/wire.js';
import { Capture, nextPush, tempDir } from '../helpers/siar.js';
import { pairsArb, unicodeString } from '../protocol/arbitraries.js';
import { gc, mib, seedMembers, sleep, waitFor } from './helpers.js';

const LONG = process.env.SIAR_HAMMER_LONG === '1';
const WORKERS = Number(process.env.SIAR_HAMMER_WORKERS ?? (LONG ? 100 : 50));
const ROUNDS = Number(process.env.SIAR_HAMMER_ROUNDS ?? (LONG ? 10 : 3));
const ACTIONS = Number(process.env.SIAR_HAMMER_ACTIONS ?? (LONG ? 40 : 20));
const SEED = Number(process.env.SIAR_HAMMER_SEED ?? 20251126);
const MAX_BAD = 10;
const MAX_FRAME = 64 * 1024;
const COUNTED = new Set(['BAD_FRAME', 'BAD_ESCAPE', 'BAD_UTF8', 'UNKNOWN_COMMAND', 'BAD_ARGUMENT']);
const MEMBERS = ['h1', 'h2', 'h3', 'h4', 'h5'];
const PASSWORD = 'hammer-password-0123456789';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// --- what to send ------------------------------------------------------------------------------

type Action =
  | { kind: 'command'; verb: string; args: ArgInput; token: boolean }
  | { kind: 'line'; bytes: Buffer }
  | { kind: 'burst'; lines: Buffer[] }
  | { kind: 'pipeline'; count: number }
  | { kind: 'huge'; size: number; newline: boolean }
  | { kind: 'truncate'; bytes: Buffer; then: 'wait' | 'end' | 'reset' }
  | { kind: 'transfer'; attack: 'ticket' | 'noise' | 'silence'; noise: Buffer }
  | { kind: 'quit' };

const nat = fc.oneof(fc.nat(3000), fc.constant(0), fc.integer({ min: -5, max: 5 }), fc.constant(2 ** 53));
const anyValue = fc.oneof(unicodeString, nat.map(String), fc.string({ maxLength: 200 }));

const commandArb: fc.Arbitrary<Action> = fc.record({
  token: fc.boolean(),
  pick: fc.oneof(
    fc.constantFrom('PING', 'HELP', 'WHOAMI', 'INBOX', 'OUTBOX', 'DIRECTORY', 'CHANNELS', 'GROUPS', 'PENDING', 'MEMBERS', 'TRANSFERS', 'STATS')
      .map((verb) => ({ verb, args: {} as ArgInput })),
    fc.record({ verb: fc.constantFrom('READ', 'DELETE', 'CANCEL'), args: fc.record({ id: anyValue }) }),
    fc.record({ verb: fc.constantFrom('UPLOAD', 'DOWNLOAD'), args: fc.record({ message: anyValue, attachment: anyValue, offset: anyValue }) }),
    fc.record({
      verb: fc.constant('SEND'),
      args: fc.record({
        to: fc.constantFrom(...MEMBERS, 'nobody', '@nogroup', 'h1,h2', ''),
        subject: unicodeString,
        body: fc.oneof(unicodeString, fc.nat(60_000).map((n) => 'x'.repeat(n))),
      }),
    }),
    fc.record({
      verb: fc.constant('SEND'),
      args: fc.record({ to: fc.constantFrom(...MEMBERS), subject: fc.constant('att'), attach: fc.oneof(anyValue, fc.constant('10,' + 'a'.repeat(64) + ',x.bin')) }),
    }),
    fc.record({ verb: fc.constant('REGISTER'), args: fc.record({ institution: anyValue, contact: anyValue, email: anyValue, username: anyValue }) }),
    fc.record({ verb: fc.constant('LOGIN'), args: fc.record({ username: fc.oneof(anyValue, fc.constantFrom(...MEMBERS)), password: anyValue }) }),
    fc.record({ verb: fc.constantFrom('READ', 'SEND', 'APPROVE', 'PASSWD', 'CHANNEL', 'GROUP_CREATE', 'AUDIT', 'EXPIRY'), args: pairsArb.map((p) => Object.fromEntries(p) as ArgInput) }),
  ),
}).map(({ token, pick }) => ({ kind: 'command' as const, verb: pick.verb, args: pick.args, token }));

const noNewline = (b: Uint8Array): Buffer => Buffer.from(b.filter((x) => x !== 0x0a));
const invalidUtf8Arb = fc.tuple(
  fc.uint8Array({ maxLength: 40 }),
  fc.constantFrom([0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0xe2, 0x82], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]),
  fc.uint8Array({ maxLength: 40 }),
).map(([a, bad, b]) => Buffer.concat([noNewline(a), Buffer.from(bad), noNewline(b)]));

const garbageLineArb: fc.Arbitrary<Buffer> = fc.oneof(
  unicodeString.map((s) => Buffer.from(s.replace(/\n/g, ''), 'utf8')),
  fc.uint8Array({ maxLength: 300 }).map(noNewline),
  invalidUtf8Arb,
  fc.constantFrom('', '|', '||||', '1|', '1||', '*|PING', '-|PING', '1|PING|\\x', '1|PING||\\', '1|PING||a=\\q', '1|SEND|tok|to', '1|bogus',
    'x'.repeat(33) + '|PING', '1|PING\r', '\uFEFF1|PING', '1|ping', 'A|Ping|', '1|HELP|not-a-token').map((s) => Buffer.from(s, 'utf8')),
  fc.tuple(fc.stringMatching(/^[A-Za-z0-9._-]{1,32}$/), fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,31}$/), pairsArb)
    .map(([id, verb, pairs]) => Buffer.from(encodeRequest(id, verb, '', Object.fromEntries(pairs)), 'utf8')),
);

/** Valid frames to mix into bursts; a wrong LOGIN is slow (scrypt), so answers out of order would show. */
const validInBurstArb: fc.Arbitrary<Buffer> = fc.tuple(fc.nat(1_000_000), fc.constantFrom('PING', 'HELP', 'LOGIN||username=h1|password=wrong-guess', 'WHOAMI', 'INBOX'))
  .map(([n, cmd]) => Buffer.from(`b${n}|${cmd}`));

const actionArb: fc.Arbitrary<Action> = fc.oneof(
  { weight: 10, arbitrary: commandArb },
  { weight: 10, arbitrary: garbageLineArb.map((bytes) => ({ kind: 'line' as const, bytes })) },
  { weight: 3, arbitrary: fc.array(fc.oneof(garbageLineArb, validInBurstArb), { minLength: 2, maxLength: 12 }).map((lines) => ({ kind: 'burst' as const, lines })) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 4096 }).map((b) => ({ kind: 'burst' as const, lines: Buffer.from(b).toString('latin1').split('\n').map((s) => Buffer.from(s, 'latin1')) })) },
  { weight: 1, arbitrary: fc.integer({ min: 20, max: 200 }).map((count) => ({ kind: 'pipeline' as const, count })) },
  { weight: 1, arbitrary: fc.record({ size: fc.integer({ min: MAX_FRAME + 1, max: 3 * MAX_FRAME }), newline: fc.boolean() }).map((h) => ({ kind: 'huge' as const, ...h })) },
  { weight: 1, arbitrary: fc.record({ bytes: garbageLineArb.filter((b) => b.length > 0), then: fc.constantFrom('wait' as const, 'end' as const, 'reset' as const) }).map((x) => ({ kind: 'truncate' as const, ...x })) },
  { weight: 1, arbitrary: fc.record({ attack: fc.constantFrom('ticket' as const, 'noise' as const, 'silence' as const), noise: fc.uint8Array({ maxLength: 2000 }).map((b) => Buffer.from(b)) }).map((x) => ({ kind: 'transfer' as const, ...x })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'quit' as const }) },
);

// --- the oracle: what the codec says the server must answer ----------------------------------------

interface Expect {
  id: string;
  /** The exact error code for a bad frame; null when any single reply will do. */
  err: string | null;
}

function oracle(raw: Buffer, verbs: Set<string>): Expect {
  const bytes = raw.length > 0 && raw[raw.length - 1] === 0x0d ? raw.subarray(0, raw.length - 1) : raw;
  let line: string;
  try {
    line = utf8.decode(bytes);
  } catch {
    return { id: '-', err: 'BAD_UTF8' };
  }
  try {
    const req = decodeRequest(line);
    return verbs.has(req.verb) ? { id: req.id, err: null } : { id: req.id, err: 'UNKNOWN_COMMAND' };
  } catch (e) {
    return { id: salvageId(line), err: (e as SiarError).code };
  }
}

// --- a peer that never reads ---------------------------------------------------------------------

/**
 * Connects, never reads, and keeps asking for HELP (a few KiB of reply each) in small paced
 * writes until the server drops it or `maxChunks` writes went out. Paced so the server reads a
 * chunk at a time, as from a real slow peer, rather than one huge backlog.
 */
async function floodWithoutReading(port: number, localAddress?: string, maxChunks = 1000): Promise<{ closedByServer: boolean; frames: number }> {
  const socket = net.connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
  socket.pause();
  socket.on('error', () => undefined);
  let closed = false;
  const whenClosed = new Promise<void>((r) => socket.once('close', () => { closed = true; r(); }));
  await new Promise((r) => socket.once('connect', r));
  let frames = 0;
  for (let i = 0; i < maxChunks && !closed; i++) {
    const chunk = Array.from({ length: 100 }, (_, j) => `f${i}x${j}|HELP`).join('\n') + '\n';
    frames += 100;
    if (!socket.write(chunk)) await Promise.race([new Promise((r) => socket.once('drain', r)), whenClosed, sleep(500)]);
    else await sleep(10);
  }
  await waitFor(() => closed, 30_000); // not a bare 30 s timer: it would hold the process open
  socket.destroy();
  return { closedByServer: closed, frames };
}

/** File descriptors this process holds (the in-process server's sockets, listeners and files included). */
function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

// --- a hostile connection ------------------------------------------------------------------------

class Peer {
  private buf = '';
  private readonly lines: string[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  counted = 0;

  constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      let nl;
      while ((nl = this.buf.indexOf('\n')) !== -1) {
        this.lines.push(Buffer.from(this.buf.slice(0, nl), 'latin1').toString('utf8'));
        this.buf = this.buf.slice(nl + 1);
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => { this.closed = true; this.wake(); });
  }

  /** The next reply or closing error (pushes and ITEM rows skipped); null once closed. */
  async next(timeoutMs = 60_000): Promise<string | null> {
    for (;;) {
      while (this.lines.length > 0) {
        const l = this.lines.shift()!;
        if (l.startsWith('*|') || l.split('|')[1] === 'ITEM') continue;
        return l;
      }
      if (this.closed) return null;
      if (!(await this.until(() => this.lines.length > 0 || this.closed, timeoutMs))) throw new Error('the server did not answer in time');
    }
  }

  /** The first line the server sends (the greeting, or a refusal), whatever it is. */
  async first(timeoutMs = 60_000): Promise<string | null> {
    await this.until(() => this.lines.length > 0 || this.closed, timeoutMs);
    return this.lines.shift() ?? null;
  }

  async waitClosed(timeoutMs = 60_000): Promise<boolean> {
    return this.until(() => this.closed, timeoutMs);
  }

  /** Waits for data or close events until `cond` holds; false after `timeoutMs`. */
  private async until(cond: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) return false;
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
    return true;
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

interface Tally {
  actions: number;
  frames: number;
  badFrames: number;
  bytes: number;
  sessions: number;
  refusedAtConnect: number;
  replies: Map<string, number>;
  closes: Map<string, number>;
  problems: string[];
  listenersAttacked: number;
}

const bump = (m: Map<string, number>, k: string, n = 1): void => { m.set(k, (m.get(k) ?? 0) + n); };

t.test('a hammer of hostile frames: no crash, every frame answered, nothing leaks', async (t) => {
  t.setTimeout(LONG ? 3_600_000 : 300_000);
  const dataDir = tempDir(t);
  await seedMembers(dataDir, MEMBERS, PASSWORD);
  const logs = new Capture();
  const server = await SiarServer.start({
    host: '127.0.0.1', port: 0, dataDir,
    frameTimeoutMs: 400, maxOutputBytes: 256 * 1024, outputStallTimeoutMs: 2000, transferConnectTimeoutMs: 800, transferIdleTimeoutMs: 800,
    loginThrottle: { ...DEFAULT_THROTTLE, freeFailures: 2, baseDelayMs: 2, maxDelayMs: 10, lockoutFailures: 1000, addressLockoutFailures: 100_000, lockoutMs: 1000, windowMs: 5000, maxKeys: 10_000 },
  }, { logger: createLogger('warn', logs) });
  t.teardown(() => server.stop());
  const port = server.address().port;

  const tokens: string[] = [];
  for (const m of MEMBERS) {
    const c = await SiarClient.connect({ host: '127.0.0.1', port });
    tokens.push((await c.login(m, PASSWORD)).token);
    await c.close();
  }
  const helpClient = await SiarClient.connect({ host: '127.0.0.1', port });
  const verbs = new Set((await helpClient.request('HELP')).items.map((i) => i.get('verb')!));
  await helpClient.close();

  const tally: Tally = {
    actions: 0, frames: 0, badFrames: 0, bytes: 0, sessions: 0, refusedAtConnect: 0,
    replies: new Map(), closes: new Map(), problems: [], listenersAttacked: 0,
  };
  const problem = (p: string): void => { if (tally.problems.length < 50) tally.problems.push(p); };

  const open = async (w: number): Promise<Peer> => {
    for (;;) {
      const socket = net.connect({ host: '127.0.0.1', port, localAddress: `127.0.0.${10 + (w % 20)}` });
      const peer = new Peer(socket);
      const hello = await peer.first();
      if (hello?.startsWith('-|ERR|TOO_MANY_REQUESTS')) {
        tally.refusedAtConnect++;
        socket.destroy();
        await sleep(50);
        continue;
      }
      if (!hello?.startsWith('*|HELLO|')) problem(`w${w}: unexpected first line ${hello?.slice(0, 80)} (closed ${peer.closed})`);
      return peer;
    }
  };

  /** Sends lines (each a complete frame) in one write and checks each answer, in order. */
  const exchange = async (peer: Peer, lines: Buffer[], w: number): Promise<'open' | 'closed'> => {
    const payload = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]));
    peer.socket.write(payload);
    tally.bytes += payload.length;
    for (const line of lines) {
      const want = oracle(line, verbs);
      tally.frames++;
      if (want.err) tally.badFrames++;
      const reply = await peer.next();
      if (reply === null) {
        problem(`w${w}: connection closed without answering ${JSON.stringify(line.toString('utf8').slice(0, 60))}`);
        return 'closed';
      }
      let frame;
      try {
        frame = decodeServerFrame(reply);
      } catch {
        problem(`w${w}: undecodable reply ${reply.slice(0, 80)}`);
        return 'closed';
      }
      if (frame.kind === 'push') continue;
      const code = frame.kind === 'err' ? String(frame.code) : 'OK';
      bump(tally.replies, code);
      if (frame.id !== want.id) problem(`w${w}: reply id ${frame.id} for a frame with id ${want.id} (${code}): ${JSON.stringify(line.toString('utf8').slice(0, 60))}`);
      if (want.err && code !== want.err) problem(`w${w}: ${code} where the codec says ${want.err}: ${JSON.stringify(line.toString('utf8').slice(0, 60))}`);
      if (code === 'INTERNAL') problem(`w${w}: INTERNAL for ${JSON.stringify(line.toString('utf8').slice(0, 80))}`);
      if (COUNTED.has(code)) peer.counted++;
      if (peer.counted >= MAX_BAD) {
        const closing = await peer.next();
        if (!closing?.startsWith('-|ERR|TOO_MANY_ERRORS|')) problem(`w${w}: after ${MAX_BAD} bad frames expected TOO_MANY_ERRORS, got ${closing}`);
        bump(tally.closes, 'TOO_MANY_ERRORS');
        if (!(await peer.waitClosed())) problem(`w${w}: not closed after TOO_MANY_ERRORS`);
        return 'closed';
      }
      if (frame.kind === 'ok' && /^[^|]*\|QUIT\b/i.test(line.toString('utf8'))) {
        bump(tally.closes, 'QUIT');
        if (!(await peer.waitClosed())) problem(`w${w}: not closed after QUIT`);
        return 'closed';
      }
    }
    return 'open';
  };

  const runAction = async (peer: Peer, a: Action, w: number, n: number): Promise<'open' | 'closed'> => {
    const id = `w${w}n${n}`;
    switch (a.kind) {
      case 'command':
        return exchange(peer, [Buffer.from(encodeRequest(id, a.verb, a.token ? tokens[w % tokens.length]! : '', a.args), 'utf8')], w);
      case 'line':
        return exchange(peer, [a.bytes], w);
      case 'burst':
        return exchange(peer, a.lines, w);
      case 'quit':
        return exchange(peer, [Buffer.from(`${id}|QUIT`)], w);
      case 'pipeline': {
        const lines = Array.from({ length: a.count }, (_, i) => Buffer.from(`${id}p${i}|PING`));
        return exchange(peer, lines, w);
      }
      case 'huge': {
        const big = Buffer.alloc(a.size, 0x61);
        peer.socket.write(big);
        if (a.newline) peer.socket.write('\n');
        tally.bytes += a.size;
        tally.frames++;
        tally.badFrames++;
        const r = await peer.next();
        if (!r?.startsWith('-|ERR|FRAME_TOO_LONG|')) problem(`w${w}: over-long line answered ${r?.slice(0, 60)}`);
        bump(tally.replies, 'FRAME_TOO_LONG');
        bump(tally.closes, 'FRAME_TOO_LONG');
        if (!(await peer.waitClosed())) problem(`w${w}: not closed after FRAME_TOO_LONG`);
        return 'closed';
      }
      case 'truncate': {
        peer.socket.write(a.bytes);
        tally.bytes += a.bytes.length;
        if (a.then === 'end') {
          peer.socket.end();
          bump(tally.closes, 'client ended mid-frame');
        } else if (a.then === 'reset') {
          peer.socket.resetAndDestroy();
          bump(tally.closes, 'client reset mid-frame');
        } else {
          const r = await peer.next(5_000);
          if (!r?.startsWith('-|ERR|TIMEOUT|')) problem(`w${w}: an unfinished frame got ${r?.slice(0, 60)} instead of TIMEOUT`);
          bump(tally.replies, 'TIMEOUT');
          bump(tally.closes, 'TIMEOUT (unfinished frame)');
          if (!(await peer.waitClosed())) problem(`w${w}: not closed after TIMEOUT`);
        }
        return 'closed';
      }
      case 'transfer': {
        const token = tokens[w % tokens.length]!;
        const to = MEMBERS[(w + 1) % MEMBERS.length]!;
        const data = Buffer.from(`attachment of ${id}`);
        const { createHash } = await import('node:crypto');
        const decl = encodeDeclaration({ name: 'a.bin', size: data.length, sha256: createHash('sha256').update(data).digest('hex') });
        peer.socket.write(encodeRequest(`${id}s`, 'SEND', token, { to, subject: 'hammer', attach: decl }) + '\n');
        tally.frames++;
        const sent = await peer.next();
        if (!sent || !sent.startsWith(`${id}s|OK|`)) {
          if (sent === null) return 'closed';
          bump(tally.replies, decodeServerFrame(sent).kind === 'err' ? 'SEND refused' : '?');
          return 'open';
        }
        bump(tally.replies, 'OK');
        const args = decodeServerFrame(sent);
        if (args.kind !== 'ok') return 'open';
        const message = args.args.get('id')!;
        const attachment = args.args.get('attachment')!.split(',')[0]!;
        peer.socket.write(encodeRequest(`${id}u`, 'UPLOAD', token, { message, attachment }) + '\n');
        tally.frames++;
        const up = await peer.next();
        if (up === null) return 'closed';
        const offer = decodeServerFrame(up);
        bump(tally.replies, offer.kind === 'err' ? String(offer.code) : 'OK');
        if (offer.kind !== 'ok') return 'open';
        tally.listenersAttacked++;
        const [host, p] = offer.args.get('addr')!.split(':');
        // The attacker: from another address, or with a wrong ticket, or random bytes, or silent.
        const from = a.attack === 'ticket' ? `127.0.0.${10 + (w % 20)}` : `127.0.0.${200 + (w % 20)}`;
        const data2 = net.connect({ host, port: Number(p), localAddress: from });
        data2.on('error', () => undefined);
        data2.on('connect', () => {
          if (a.attack === 'ticket') data2.end(`${'B'.repeat(43)}\n`);
          else if (a.attack === 'noise') data2.end(a.noise);
        });
        setTimeout(() => data2.destroy(), 2000).unref();
        return 'open';
      }
    }
  };

  const worker = async (w: number, actions: Action[]): Promise<void> => {
    let peer: Peer | null = null;
    let n = 0;
    for (const a of actions) {
      if (!peer) {
        peer = await open(w);
        tally.sessions++;
      }
      tally.actions++;
      try {
        if ((await runAction(peer, a, w, n++)) === 'closed') {
          peer.socket.destroy();
          peer = null;
        }
      } catch (err) {
        problem(`w${w}: ${(err as Error).message} (action ${a.kind}${a.kind === 'command' ? ` ${a.verb}` : ''}, connection open ${!peer?.closed})`);
        peer?.socket.destroy();
        peer = null;
      }
    }
    peer?.socket.end();
  };

  const rounds: Array<{ heapMiB: number; rssMiB: number; fds: number }> = [];
  let slowPeersDropped = 0;
  let floodFrames = 0;
  let errorLogs: string[] = [];
  gc();
  const base = { ...process.memoryUsage(), fds: openFds() };
  for (let round = 0; round < ROUNDS; round++) {
    const plans = fc.sample(fc.array(actionArb, { minLength: ACTIONS, maxLength: ACTIONS }), { numRuns: WORKERS, seed: SEED + round });
    const t0 = Date.now();
    await Promise.all(plans.map((actions, w) => worker(w, actions)));
    // Then a peer that asks and never reads, alone (its output must pile up past the limit).
    const flood = await floodWithoutReading(port, '127.0.0.99');
    if (flood.closedByServer) slowPeersDropped++;
    floodFrames += flood.frames;
    if (process.env.SIAR_HAMMER_DEBUG) t.comment(`round ${round + 1} took ${Date.now() - t0} ms`);
    const drained = await waitFor(() => server.router.connectionCount() === 0 && server.transfers.liveListeners() === 0, 30_000);
    t.ok(drained, `round ${round + 1}: connections ${server.router.connectionCount()} and listeners ${server.transfers.liveListeners()} back to 0`);
    // Client sockets of this process close a moment after the server's side.
    await waitFor(() => openFds() <= base.fds, 30_000);
    const records = logs.records;
    errorLogs = [...errorLogs, ...records.filter((r) => Number(r.level) >= 50).map((r) => String(r.msg))];
    logs.chunks.length = 0; // the capture itself must not look like a leak
    gc();
    const m = process.memoryUsage();
    rounds.push({ heapMiB: mib(m.heapUsed), rssMiB: mib(m.rss), fds: openFds() });
  }

  t.strictSame(tally.problems, [], 'every frame was answered once, in order, with the code the codec predicts');
  t.notOk(tally.replies.has('INTERNAL'), 'no INTERNAL error');
  t.strictSame(errorLogs, [], 'nothing logged at error level');
  t.equal(slowPeersDropped, ROUNDS, 'the peer that never reads was dropped by the server every round');

  const first = rounds[0]!;
  const last = rounds[rounds.length - 1]!;
  t.ok(last.fds <= base.fds, `open file descriptors back to baseline: ${base.fds} → ${rounds.map((r) => r.fds).join(' → ')}`);
  t.ok(last.heapMiB - first.heapMiB < 16, `heap after GC: ${mib(base.heapUsed)} → ${rounds.map((r) => r.heapMiB).join(' → ')} MiB`);
  t.ok(last.rssMiB - first.rssMiB < 80, `RSS: ${mib(base.rss)} → ${rounds.map((r) => r.rssMiB).join(' → ')} MiB`);

  // A fresh client is served as if nothing happened.
  const a = await SiarClient.connect({ host: '127.0.0.1', port });
  const b = await SiarClient.connect({ host: '127.0.0.1', port });
  await a.login('h1', PASSWORD);
  await b.login('h2', PASSWORD);
  const popup = nextPush(b, 'POPUP', (p) => p.get('subject') === 'after the storm');
  await a.request('SEND', { to: 'h2', subject: 'after the storm', body: 'still here' });
  t.equal((await popup).get('from'), 'h1', 'a fresh client sends and receives');
  await a.close();
  await b.close();

  const fmt = (m: Map<string, number>): string => [...m].sort((x, y) => y[1] - x[1]).map(([k, v]) => `${k} ${v}`).join(', ');
  t.comment(`seed ${SEED}: ${WORKERS} connections × ${ROUNDS} rounds × ${ACTIONS} actions = ${tally.actions} actions; ${tally.frames} complete frames ` +
    `(${tally.badFrames} bad by the codec), ${mib(tally.bytes)} MiB sent, ${tally.sessions} connections, ${tally.refusedAtConnect} refused at connect, ` +
    `${tally.listenersAttacked} shadow listeners attacked`);
  t.comment(`replies: ${fmt(tally.replies)}`);
  t.comment(`peers that never read: ${slowPeersDropped} dropped after ${floodFrames} HELP frames between them`);
  t.comment(`closes: ${fmt(tally.closes)}`);
});

t.test('a peer that never reads stops being served, then is dropped once: one log line, and the frames it had queued are not run', async (t) => {
  t.setTimeout(120_000);
  const logs = new Capture();
  const server = await SiarServer.start({ host: '127.0.0.1', port: 0, dataDir: tempDir(t), outputStallTimeoutMs: 1000 }, { logger: createLogger('info', logs) });
  t.teardown(() => server.stop());
  const flood = await floodWithoutReading(server.address().port);
  t.ok(flood.closedByServer, `dropped after at most ${flood.frames} frames`);
  const records = logs.records;
  const drops = records.filter((r) => typeof r.msg === 'string' && r.msg.endsWith('; disconnecting'));
  t.equal(drops.length, 1, 'one log line for one dropped peer');
  t.equal(drops[0]?.msg, 'peer took none of its output for too long; disconnecting', 'dropped for taking nothing, not for a pile of output');
  const ran = records.filter((r) => r.msg === 'command ok').length;
  // What it sent is read only as its replies are taken: the kernel holds a few MB of replies, so
  // a few hundred HELPs at most, of the thousands it sent.
  t.ok(ran < flood.frames / 4, `${ran} of its ${flood.frames} frames were run`);
  // The command being written when the peer was dropped may finish; nothing after it runs.
  const dropped = records.indexOf(drops[0]!);
  t.ok(records.slice(dropped).filter((r) => r.msg === 'command ok').length <= 1, 'no queued frame runs once the peer is dropped');
});

t.test('a frame dribbled a byte at a time is still cut at the frame deadline', async (t) => {
  const logs = new Capture();
  const server = await SiarServer.start({ host: '127.0.0.1', port: 0, dataDir: tempDir(t), frameTimeoutMs: 300 }, { logger: createLogger('warn', logs) });
  t.teardown(() => server.stop());
  const socket = net.connect({ host: '127.0.0.1', port: server.address().port });
  const peer = new Peer(socket);
  t.match(await peer.first(), /^\*\|HELLO\|/, 'greeted');
  // Bytes keep coming, but the frame never ends: more bytes must not move the deadline.
  const dribble = setInterval(() => { if (!socket.destroyed) socket.write('x'); }, 20);
  t.teardown(() => clearInterval(dribble));
  socket.write('1|PING|');
  t.match(await peer.next(), /^-\|ERR\|TIMEOUT\|/, 'a closing TIMEOUT');
  t.ok(await peer.waitClosed(), 'and the connection is closed');
  clearInterval(dribble);
  t.ok(await waitFor(() => server.router.connectionCount() === 0, 30_000), 'the server holds no connection for it');
});

t.test('not-logged-in connections are capped per address; members and other addresses still get in', async (t) => {
  const dataDir = tempDir(t);
  await seedMembers(dataDir, ['cap1'], PASSWORD);
  const server = await SiarServer.start({ host: '127.0.0.1', port: 0, dataDir, maxAnonymousPerAddress: 8 }, { logger: createLogger('error', new Capture()) });
  t.teardown(() => server.stop());
  const port = server.address().port;
  const connect = async (localAddress: string): Promise<{ peer: Peer; first: string | null }> => {
    const peer = new Peer(net.connect({ host: '127.0.0.1', port, localAddress }));
    t.teardown(() => peer.socket.destroy());
    return { peer, first: await peer.first() };
  };
  // 30 at once from one address: 8 greeted, the rest refused and closed.
  const storm = await Promise.all(Array.from({ length: 30 }, () => connect('127.0.0.50')));
  const greeted = storm.filter((c) => c.first?.startsWith('*|HELLO|'));
  const refused = storm.filter((c) => c.first?.startsWith('-|ERR|TOO_MANY_REQUESTS|'));
  t.equal(greeted.length, 8, '8 greeted');
  t.equal(refused.length, 22, '22 refused with TOO_MANY_REQUESTS');
  t.ok((await Promise.all(refused.map((c) => c.peer.waitClosed()))).every(Boolean), 'and every refused connection is closed');
  // Another address is not affected.
  t.match((await connect('127.0.0.51')).first, /^\*\|HELLO\|/, 'another address is greeted');
  // Logging in frees the slot: a logged-in member does not count as anonymous.
  const member = greeted[0]!.peer;
  member.socket.write(encodeRequest('1', 'LOGIN', '', { username: 'cap1', password: PASSWORD }) + '\n');
  t.match(await member.next(), /^1\|OK\|/, 'a member logs in on one of them');
  t.match((await connect('127.0.0.50')).first, /^\*\|HELLO\|/, 'and one more from that address is greeted');
  t.match((await connect('127.0.0.50')).first, /^-\|ERR\|TOO_MANY_REQUESTS\|/, 'but no more than that');
  member.socket.write('2|PING\n');
  t.match(await member.next(), /^2\|OK\|pong=1/, 'and the member is still served');
});

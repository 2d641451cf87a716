/** The shadow listener alone: one authorised peer, address and ticket checks, deadlines, port ranges. */
import { randomInt } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import t, { type Test } from 'tap';
import { decodeServerFrame } from '../../src/protocol/index.js';
import {
  ListenerClosedError, ListenerTimeoutError, NoFreePortError, ShadowListener, hashTicket, type Refusal,
} from '../../src/transfer/shadow-listener.js';
import { makePki } from '../helpers/tls.js';

const TICKET = 'T'.repeat(43);

async function open(t: Test, ports: { from: number; to: number } | null = null, exclude?: Set<number>): Promise<ShadowListener> {
  const l = await ShadowListener.open({ host: '127.0.0.1', ports, ...(exclude ? { exclude } : {}) });
  t.teardown(() => l.close());
  return l;
}

function acceptOptions(refusals: Refusal[], overrides: Partial<Parameters<ShadowListener['accept']>[0]> = {}) {
  return {
    expectedAddress: '127.0.0.1', ticketHash: hashTicket(TICKET), deadline: Date.now() + 10_000, ticketTimeoutMs: 5_000,
    onRefused: (r: Refusal) => refusals.push(r), ...overrides,
  };
}

/** Connects (optionally from another local address), sends `data`, and collects what comes back until close. */
async function peer(t: Test, port: number, data: string | Buffer, localAddress?: string): Promise<{ socket: net.Socket; reply: Promise<string> }> {
  const socket = net.connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
  t.teardown(() => socket.destroy());
  socket.on('error', () => undefined);
  await once(socket, 'connect');
  socket.write(data);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  const reply = new Promise<string>((resolve) => socket.once('close', () => resolve(Buffer.concat(chunks).toString('utf8'))));
  return { socket, reply };
}

function errorCode(reply: string): string | undefined {
  const line = reply.split('\n')[0];
  if (!line) return undefined;
  const frame = decodeServerFrame(line);
  return frame.kind === 'err' ? String(frame.code) : undefined;
}

t.test('accepts the peer that presents the ticket from the expected address, hands over the bytes after the ticket, and stops listening', async (t) => {
  const l = await open(t);
  const refusals: Refusal[] = [];
  const accepted = l.accept(acceptOptions(refusals));
  const p = await peer(t, l.port, `${TICKET}\nfirst bytes`);
  const { socket, head } = await accepted;
  t.equal(head.toString(), 'first bytes', 'bytes after the ticket line are not lost');
  t.strictSame(refusals, []);
  const second = net.connect({ host: '127.0.0.1', port: l.port });
  const [err] = (await once(second, 'error')) as [NodeJS.ErrnoException];
  t.equal(err.code, 'ECONNREFUSED', 'a second connection after the first finds no listener');
  t.ok(l.live, 'the listener is live while its peer is connected');
  socket.destroy();
  p.socket.destroy();
  await l.closed;
  t.notOk(l.live, 'and not once the peer is gone');
});

t.test('refuses a connection from another address unread and keeps waiting for the right one', async (t) => {
  const l = await open(t);
  const refusals: Refusal[] = [];
  const accepted = l.accept(acceptOptions(refusals));
  // 127.0.0.2 is loopback too, but not the control connection's address.
  const intruder = await peer(t, l.port, `${TICKET}\n`, '127.0.0.2');
  await intruder.reply;
  t.strictSame(refusals, [{ reason: 'address', address: '127.0.0.2' }], 'refused and reported');
  await peer(t, l.port, `${TICKET}\n`);
  const { socket } = await accepted;
  t.equal(socket.remoteAddress, '127.0.0.1', 'the right peer still gets in');
});

t.test('refuses a wrong ticket with BAD_TICKET and keeps waiting for the right peer', async (t) => {
  const l = await open(t);
  const refusals: Refusal[] = [];
  const accepted = l.accept(acceptOptions(refusals));
  const wrong = await peer(t, l.port, `${'W'.repeat(43)}\n`);
  t.equal(errorCode(await wrong.reply), 'BAD_TICKET');
  t.match(refusals, [{ reason: 'ticket', address: '127.0.0.1' }]);
  await peer(t, l.port, `${TICKET}\r\n`); // nc -C sends CRLF
  await accepted;
  t.pass('the right ticket is accepted after a wrong one');
});

t.test('refuses a ticket line longer than the limit without buffering it', async (t) => {
  const l = await open(t);
  const refusals: Refusal[] = [];
  void l.accept(acceptOptions(refusals)).catch(() => undefined);
  const long = await peer(t, l.port, 'x'.repeat(10_000));
  t.equal(errorCode(await long.reply), 'BAD_TICKET');
  t.match(refusals, [{ reason: 'ticket-too-long' }]);
});

t.test('cuts a candidate that never sends its ticket, so it cannot hold the only slot', async (t) => {
  const l = await open(t);
  const refusals: Refusal[] = [];
  const accepted = l.accept(acceptOptions(refusals, { ticketTimeoutMs: 100 }));
  const silent = await peer(t, l.port, '');
  t.equal(errorCode(await silent.reply), 'TRANSFER_TIMEOUT');
  t.match(refusals, [{ reason: 'ticket-timeout' }]);
  await peer(t, l.port, `${TICKET}\n`);
  await accepted;
  t.pass('the right peer gets in after the silent one is cut');
});

t.test('gives up at its deadline and frees its port', async (t) => {
  const l = await open(t);
  const started = Date.now();
  await t.rejects(l.accept(acceptOptions([], { deadline: Date.now() + 150 })), ListenerTimeoutError);
  t.ok(Date.now() - started >= 140, 'not before the deadline');
  await l.closed;
  t.notOk(l.live);
});

t.test('close() rejects a pending accept and destroys every socket', async (t) => {
  const l = await open(t);
  const accepted = l.accept(acceptOptions([]));
  const p = await peer(t, l.port, 'half a tic'); // mid-ticket
  await new Promise((r) => setImmediate(r));
  await l.close();
  await t.rejects(accepted, ListenerClosedError);
  await p.reply;
  t.notOk(l.live);
  t.equal(l.socketCount, 0);
});

/**
 * The first of `n` consecutive free ports below the OS's ephemeral range (32768+), so other
 * tests' connections, which get ephemeral ports, cannot take one of them meanwhile.
 */
async function freeRange(n: number): Promise<number> {
  for (;;) {
    const base = 20_000 + randomInt(12_000 - n);
    const held: net.Server[] = [];
    try {
      for (let p = base; p < base + n; p++) {
        const server = net.createServer();
        await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(p, '127.0.0.1', resolve); });
        held.push(server);
      }
      return base;
    } catch {
      // One of them is in use: try another base.
    } finally {
      await Promise.all(held.map((server) => new Promise<void>((r) => server.close(() => r()))));
    }
  }
}

t.test('picks ports from a range, never one held by another transfer, and skips a port another process holds', async (t) => {
  const base = await freeRange(4);
  const range = { from: base, to: base + 3 };
  // Another process (here: another server) holds one port of the range.
  const squatter = net.createServer();
  await new Promise<void>((resolve, reject) => { squatter.once('error', reject); squatter.listen(base + 1, '127.0.0.1', resolve); });
  t.teardown(() => squatter.close());

  const held = new Set<number>();
  const got: number[] = [];
  for (let i = 0; i < 3; i++) {
    const l = await open(t, range, held);
    held.add(l.port);
    got.push(l.port);
  }
  t.equal(new Set(got).size, 3, 'three different ports');
  t.notOk(got.includes(base + 1), 'never the port another process holds');
  t.ok(got.every((p) => p >= range.from && p <= range.to), 'all within the range');
  await t.rejects(open(t, range, held), NoFreePortError, 'an exhausted range is an error, not a hang');
});

t.test('ports from a range come in random order, not in sequence', async (t) => {
  // A range of 1000 around a port the OS just handed out (so no fixed port numbers).
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const from = Math.min((probe.address() as net.AddressInfo).port, 64000);
  await new Promise<void>((r) => probe.close(() => r()));
  const first = new Set<number>();
  for (let i = 0; i < 12; i++) {
    const l = await ShadowListener.open({ host: '127.0.0.1', ports: { from, to: from + 999 } });
    first.add(l.port);
    await l.close();
  }
  t.ok(first.size >= 8, `12 listeners used ${first.size} different ports of 1000`);
});

t.test('with TLS: the address is checked before the handshake, a plain peer is refused, and the TLS peer gets in', async (t) => {
  const pki = makePki(t);
  const l = await ShadowListener.open({ host: '127.0.0.1', ports: null, tls: tls.createSecureContext({ cert: pki.cert, key: pki.key }) });
  t.teardown(() => l.close());
  t.ok(l.secure);
  const refusals: Refusal[] = [];
  const accepted = l.accept(acceptOptions(refusals, { ticketTimeoutMs: 2_000 }));

  const intruder = await peer(t, l.port, '\x16\x03\x01', '127.0.0.2'); // the start of a ClientHello
  t.equal(errorCode(await intruder.reply), 'TRANSFER_REFUSED', 'another address is refused before any TLS');
  const plain = await peer(t, l.port, `${TICKET}\n`);
  t.equal(await plain.reply, '', 'a plain peer gets no line in clear and is cut');
  const silent = await peer(t, l.port, '');
  await silent.reply;
  t.match(refusals, [{ reason: 'address', address: '127.0.0.2' }, { reason: 'tls-handshake' }, { reason: 'ticket-timeout' }]);

  const secure = tls.connect({ host: '127.0.0.1', port: l.port, ca: pki.ca });
  t.teardown(() => secure.destroy());
  await once(secure, 'secureConnect');
  secure.write(`${TICKET}\nfirst bytes`);
  const { socket, head } = await accepted;
  t.type(socket, tls.TLSSocket, 'the caller gets the TLS socket');
  t.equal(head.toString(), 'first bytes', 'bytes after the ticket line are not lost');
  socket.end('bye\n');
  const [reply] = (await once(secure, 'data')) as [Buffer];
  t.equal(reply.toString(), 'bye\n', 'and talks TLS with it');
  secure.destroy();
  await l.closed;
  t.notOk(l.live);
});

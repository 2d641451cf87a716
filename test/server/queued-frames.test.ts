/**
 * docs/PROTOCOL.md §Limits: "frames queued per connection before reading pauses: 64". A client may
 * pipeline, but the server takes at most 64 of its frames waiting behind the one it runs; then it
 * reads no further frame from that connection until the queue has drained.
 *
 * Seen from outside: a LOGIN with a wrong password is answered only after the throttle's delay and
 * holds its connection's queue meanwhile. Behind it come N PINGs, and once the server has read those
 * (the administrator's STATS counts the bytes read, `bytesIn`), an over-long frame. (Node may still
 * take bytes from the kernel into the paused socket's buffer, so bytesIn alone cannot tell.) The server
 * refuses an over-long frame the moment it reads it (FRAME_TOO_LONG, and the connection closes), so
 * whether that answer comes before the LOGIN's says whether reading had paused.
 */
import t, { type Test } from 'tap';
import { decodeServerFrame } from '../../src/protocol/index.js';
import { RawPeer, startServer, until, type TestServer } from '../helpers/siar.js';
import { DEFAULT_THROTTLE } from '../../src/server/throttle.js';

/** How long the blocking LOGIN holds its connection: ample time to look, on a loaded machine. */
const LOGIN_DELAY_MS = 10_000;

/**
 * The administrator's view of the bytes the server has read, less what the administrator itself sent:
 * with one other connection open, that connection's bytes read (plus a constant).
 */
async function readByServer(t: Test, s: TestServer): Promise<() => Promise<number>> {
  const admin = await RawPeer.connect(t, s.port);
  const login = decodeServerFrame(await admin.ask(`0|LOGIN||username=admin|password=${s.adminPassword()}`));
  const token = login.kind === 'ok' ? login.args.get('token') : undefined;
  if (!token) throw new Error(`admin login failed: ${JSON.stringify(login)}`);
  let n = 0;
  return async () => {
    const id = `stats${++n}`;
    const from = admin.lines.length;
    admin.write(`${id}|STATS|${token}|minutes=1\n`);
    let ok: string | undefined;
    while (!(ok = admin.lines.slice(from).find((l) => l.startsWith(`${id}|OK|`)))) await admin.waitLines(admin.lines.length + 1);
    const frame = decodeServerFrame(ok);
    if (frame.kind !== 'ok') throw new Error(ok);
    return Number(frame.args.get('bytesIn')) - admin.socket.bytesWritten;
  };
}

const MAX_FRAME = 1024;

/**
 * A blocking LOGIN, then (once the server runs it) `queued` PINGs to wait behind it, then (once the
 * server has read those) an over-long frame.
 */
async function pipeline(t: Test, s: TestServer, queued: number): Promise<RawPeer> {
  const read = await readByServer(t, s);
  const peer = await RawPeer.connect(t, s.port);
  let sent = await read();
  const send = async (what: string, bytes: string): Promise<void> => {
    peer.write(bytes);
    sent += bytes.length;
    await until(`the server has read ${what}`, async () => (await read()) >= sent);
  };
  await send('the LOGIN', '1|LOGIN||username=nobody|password=wrong\n');
  await send(`${queued} PINGs`, Array.from({ length: queued }, (_, i) => `p${i}|PING\n`).join(''));
  peer.write(`2|PING||x=${'x'.repeat(2 * MAX_FRAME)}\n`);
  return peer;
}

const TOO_LONG = /^-\|ERR\|FRAME_TOO_LONG\|/;

t.test('the server reads no frame past 64 queued ones until they are answered', async (t) => {
  const s = await startServer(t, {
    maxFrameBytes: MAX_FRAME,
    loginThrottle: { ...DEFAULT_THROTTLE, freeFailures: 0, baseDelayMs: LOGIN_DELAY_MS, maxDelayMs: LOGIN_DELAY_MS, lockoutFailures: 1000, addressLockoutFailures: 1000, lockoutMs: 1000, windowMs: 60_000, maxKeys: 100 },
    shutdownDeadlineMs: 500,
  });

  await t.test('63 frames queued: the next frame is still read', async (t) => {
    const peer = await pipeline(t, s, 63);
    await peer.waitClosed();
    t.match(peer.lines.slice(1), [TOO_LONG], 'the over-long frame is refused at once, before the LOGIN is answered');
  });

  await t.test('64 frames queued: the next frame is read only once the queue has drained', async (t) => {
    const peer = await pipeline(t, s, 64);
    await new Promise((r) => setTimeout(r, 1500));
    t.strictSame([peer.lines.length, peer.closed], [1, false], 'nothing answered, the connection open: the over-long frame was not read');
    await peer.waitClosed();
    const [login, ...rest] = peer.lines.slice(1);
    t.match(login, /^1\|ERR\|BAD_CREDENTIALS\|/, 'the LOGIN is answered first, after its delay');
    t.match(rest.at(-1), TOO_LONG, 'the over-long frame is refused last');
    const pongs = rest.slice(0, -1);
    t.ok(pongs.length > 0, 'PINGs were answered before it was read');
    t.strictSame(pongs, pongs.map((_, i) => `p${i}|OK|pong=1`), 'in order');
  });
});

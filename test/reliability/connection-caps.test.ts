/**
 * Connection caps after login (issue 20 §2), against a real `siar server` process started with the
 * flags: one member cannot hold every slot (--max-connections-per-member), nor can one address
 * (--max-logged-in-per-address), and the last --admin-reserved-connections slots are kept so the
 * administrator can always get in to act.
 *
 * On the code before the fix a logged-in connection had no cap: the fourth LOGIN of one member and
 * a member's LOGIN on the last free slot both succeeded, and the administrator was told the server
 * was full.
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t, { type Test } from 'tap';
import { tempDir } from '../helpers/siar.js';
import { ChildServer, RawControl, freePort, seedMembers, waitFor, type RawReply } from './helpers.js';

const PASSWORD = 'caps-password-0123456789';

async function start(t: Test, args: string[], members: string[]): Promise<{ server: ChildServer; port: number; adminPassword: string }> {
  const root = tempDir(t, 'siar-caps-');
  const dataDir = path.join(root, 'data');
  await seedMembers(dataDir, members, PASSWORD);
  const port = await freePort();
  const server = await ChildServer.start({ dataDir, port, args, logFile: path.join(root, 'server.log') });
  t.teardown(() => server.stop());
  return { server, port, adminPassword: readFileSync(path.join(dataDir, 'admin-password'), 'utf8').trim() };
}

/** A connection from `localAddress`, closed when the test ends. */
async function connect(t: Test, port: number, localAddress = '127.0.0.1'): Promise<RawControl> {
  const c = await RawControl.connect(port, localAddress);
  t.teardown(() => c.close());
  return c;
}

function login(c: RawControl, username: string, password = PASSWORD): Promise<RawReply> {
  return c.request('LOGIN', { username, password }, '');
}

/** The first line the server sends a new connection from `localAddress`. */
function firstLine(port: number, localAddress: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, localAddress });
    let text = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
      if (text.includes('\n')) socket.destroy();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(text.split('\n')[0]!));
  });
}

t.test('one member, and one address, hold only so many logged-in connections; the administrator is not held to the address', async (t) => {
  const { port, adminPassword } = await start(t, ['--max-connections-per-member', '3', '--max-logged-in-per-address', '5'], ['ana', 'budi', 'citra']);

  const ana = await Promise.all([1, 2, 3].map(() => connect(t, port)));
  for (const c of ana) t.match(await login(c, 'ana'), { ok: true }, 'ana logs in');
  const fourth = await connect(t, port);
  t.match(await login(fourth, 'ana'), { ok: false, code: 'TOO_MANY_REQUESTS', message: /^ana already has 3 connections open, the most one member may have; close one and try again\.$/ },
    'her fourth LOGIN is refused with the reason');
  t.match(await fourth.request('PING', {}, ''), { ok: true }, 'and that connection is still there, not logged in');
  ana[0]!.close();
  t.ok(await waitFor(async () => (await login(fourth, 'ana')).ok, 10_000, 100), 'once she closes one, the fourth gets in');

  // One address: budi ×3 and citra ×2 fill its 5; a sixth is refused, from another address it is not.
  const from21 = await Promise.all([1, 2, 3, 4, 5, 6].map(() => connect(t, port, '127.0.0.21')));
  for (const c of from21.slice(0, 3)) t.match(await login(c, 'budi'), { ok: true }, 'budi logs in from 127.0.0.21');
  for (const c of from21.slice(3, 5)) t.match(await login(c, 'citra'), { ok: true }, 'citra logs in from 127.0.0.21');
  t.match(await login(from21[5]!, 'citra'), { ok: false, code: 'TOO_MANY_REQUESTS', message: /^Your address already has 5 logged-in connections, the most one address may have/ },
    'a sixth LOGIN from the address is refused');
  t.match(await login(await connect(t, port, '127.0.0.22'), 'citra'), { ok: true }, 'citra gets in from another address');
  t.match(await login(from21[5]!, 'admin', adminPassword), { ok: true }, 'the administrator gets in from the full address');
});

t.test('the last slots are kept for the administrator: a member there is refused and closed, the administrator gets in and acts', async (t) => {
  const { server, port, adminPassword } = await start(t, ['--max-connections', '6', '--admin-reserved-connections', '2'], ['dewi', 'eko', 'fajar']);
  for (const [username, address] of [['dewi', '127.0.0.31'], ['dewi', '127.0.0.31'], ['eko', '127.0.0.32'], ['eko', '127.0.0.32']] as const) {
    t.match(await login(await connect(t, port, address), username), { ok: true }, `${username} logs in`);
  }
  // Four of six taken: what is left is the administrator's.
  const member = await connect(t, port, '127.0.0.33');
  t.match(await login(member, 'fajar'), { ok: false, code: 'TOO_MANY_REQUESTS', message: /^The server is full; its last connections are kept for the administrator\./ },
    'a member may connect, but its LOGIN there is refused');
  t.ok(await waitFor(() => member.closed, 5000), 'and the connection is closed');
  const other = await connect(t, port, '127.0.0.33');
  t.match(await other.request('HELP', {}, ''), { ok: false, code: 'TOO_MANY_REQUESTS' }, 'anything but LOGIN is refused there too');
  t.ok(await waitFor(() => other.closed, 5000), 'and closed');
  const guess = await connect(t, port, '127.0.0.34');
  t.match(await login(guess, 'admin', 'not-the-password'), { ok: false, code: 'BAD_CREDENTIALS' }, 'a wrong administrator password is refused');
  t.ok(await waitFor(() => guess.closed, 5000), 'and the slot is not held on to');

  const admin = await connect(t, port, '127.0.0.35');
  const adminLogin = await login(admin, 'admin', adminPassword);
  t.match(adminLogin, { ok: true }, 'the administrator gets in');
  admin.token = adminLogin.ok ? adminLogin.args.get('token') ?? '' : '';
  const online = await admin.request('ONLINE');
  t.match(online, { ok: true }, 'and acts');
  t.same(online.ok ? online.items.map((i) => i.get('username')).sort() : [], ['admin', 'dewi', 'eko'], 'ONLINE lists who holds the slots');
  const second = await connect(t, port, '127.0.0.35');
  t.match(await login(second, 'admin', adminPassword), { ok: true }, 'a second administrator connection takes the other reserved slot');
  t.match(await firstLine(port, '127.0.0.36'), /^-\|ERR\|TOO_MANY_REQUESTS\|The server is full; try again later\.$/, 'past every slot a new connection is told the server is full');
  t.match(server.logTail(200), /connection taken on a slot kept for the administrator/, 'the server logs that it is down to its reserve');
});

/**
 * A member's last login (MEMBERS lastLoginAt= lastLoginAddress=, the console's Members screen) is
 * its last LOGIN with its password: RESUME re-attaches a session without writing it, so a reconnect
 * storm writes no row per resume (docs/PROTOCOL.md, RESUME). Real server, real sockets; the resume
 * comes from another loopback address, which ONLINE shows.
 */
import t from 'tap';
import { SiarClient } from '../../src/client/connection.js';
import { startServer, until } from '../helpers/siar.js';

t.test('RESUME leaves the last login as LOGIN wrote it; ONLINE shows where the session is now', async (t) => {
  const s = await startServer(t);
  const alice = await s.member('alice');
  const admin = await s.adminClient();
  const first = await s.client();
  const info = await first.login('alice', alice.password);
  const atLogin = (await admin.admin.members()).find((m) => m.username === 'alice')!;
  t.ok(atLogin.lastLoginAt, 'LOGIN recorded it');
  t.equal(atLogin.lastLoginAddress, '127.0.0.1');
  await first.close();

  // Past the millisecond of that login, so a write at RESUME would show.
  await until('the clock moved on', () => Date.now() > Date.parse(atLogin.lastLoginAt!) + 5);
  const elsewhere = await SiarClient.connect({ host: '127.0.0.1', port: s.port, localAddress: '127.0.0.2' });
  t.teardown(() => elsewhere.close());
  for (let i = 0; i < 3; i++) await elsewhere.resume(info.token, { popups: false });
  const after = (await admin.admin.members()).find((m) => m.username === 'alice')!;
  t.equal(after.lastLoginAt, atLogin.lastLoginAt, 'RESUME did not write the last login');
  t.equal(after.lastLoginAddress, '127.0.0.1', 'nor its address');
  const online = await admin.admin.online();
  t.match(online.users.find((o) => o.username === 'alice'), { addresses: ['127.0.0.2'] }, 'where the resumed session is now');

  const again = await s.client();
  await again.login('alice', alice.password, { popups: false });
  const relogged = (await admin.admin.members()).find((m) => m.username === 'alice')!;
  t.ok(Date.parse(relogged.lastLoginAt!) > Date.parse(atLogin.lastLoginAt!), 'a LOGIN still records it');
});

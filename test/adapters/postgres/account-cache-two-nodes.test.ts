/**
 * What a node keeps of members between commands (src/server/account-cache.ts), across nodes: two
 * in-process nodes A and B on one PostgreSQL store (which keeps nothing itself) and one Redis bus.
 * A connection on A that has sent once has its session, its member and its recipients' ids kept;
 * a change made on B must still apply on A at the next command, as it did when every command read
 * the store:
 * - a member suspended on B: its token, used from a connection on A that is not logged in with it
 *   (so the suspension does not close it), is refused; a SEND on A naming it is refused;
 * - a session logged out on B: its token is refused on A;
 * - a password changed on B: a connection on A resumed on the same (mailed-password) session,
 *   refused SEND before, may now send.
 * Each waits for A to have heard the event (a connection the same change closes on A, or one the
 * same node's next event closes: the bus keeps one node's events in order), never for a time.
 *
 * Needs PostgreSQL and Redis (SIAR_TEST_PG_URL / SIAR_TEST_REDIS_URL, or installed); skipped
 * without them, except under CI.
 */
import t, { type Test } from 'tap';
import { RemoteError, SiarClient } from '../../../src/client/connection.js';
import { freshPostgresDatabase, postgresMissing } from '../../contract/store/adapters.js';
import { redisMissing, redisUrl } from '../../contract/redis.js';
import { requireCapability } from '../../helpers/capability.js';
import { startServer, tempDir, type TestServer } from '../../helpers/siar.js';

t.setTimeout(180_000);

async function twoNodes(t: Test): Promise<{ a: TestServer; b: TestServer }> {
  const store = await freshPostgresDatabase(t, { empty: true });
  // A cluster of its own on the shared Redis database: its keys and channels begin siar@NAME:.
  const cluster = { store, bus: await redisUrl(), clusterName: `acache-${process.pid}-${Math.random().toString(36).slice(2, 8)}` };
  // One data directory: the same admin password file and mail key for both nodes.
  const dataDir = tempDir(t);
  const a = await startServer(t, { ...cluster, nodeId: 'a' }, dataDir);
  const b = await startServer(t, { ...cluster, nodeId: 'b' }, dataDir);
  return { a, b };
}

async function connect(t: Test, s: TestServer): Promise<SiarClient> {
  const c = await SiarClient.connect({ host: '127.0.0.1', port: s.port });
  t.teardown(() => c.close());
  return c;
}

function closed(c: SiarClient): Promise<void> {
  return new Promise((resolve) => c.once('close', () => resolve()));
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (err) {
    if (err instanceof RemoteError) return err.code;
    throw err;
  }
}

t.test('a suspension and a logout made on node B apply on node A at the next command', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const { a, b } = await twoNodes(t);
  const { password: bobPassword } = await a.member('bob');
  const { password: carolPassword } = await a.member('carol');
  const alice = await a.memberClient('alice');

  // bob logged in on A, and a second connection on A using bob's token without logging in with it.
  const bob = await connect(t, a);
  await bob.login('bob', bobPassword, { popups: false });
  const borrowed = await connect(t, a);
  const send = (c: SiarClient, token: string, to = 'alice') => c.request('SEND', { to, subject: 'hello' }, token);
  t.equal(await refusal(send(bob, bob.token)), 'accepted', 'bob sends on A');
  t.equal(await refusal(send(borrowed, bob.token)), 'accepted', 'and with his token from another connection on A (now kept there too)');
  t.equal(await refusal(send(alice, alice.token, 'carol')), 'accepted', 'alice sends to carol on A (carol\'s id now kept there)');

  // carol on A, to see the suspension arrive there.
  const carol = await connect(t, a);
  await carol.login('carol', carolPassword, { popups: false });
  const admin = await connect(t, b);
  await admin.login('admin', a.adminPassword(), { popups: false });

  const carolGone = closed(carol);
  await admin.request('SUSPEND', { username: 'carol' });
  await carolGone; // A heard the suspension (session_closed, then member_changed: in order)
  t.equal(await refusal(send(alice, alice.token, 'carol')), 'UNKNOWN_RECIPIENT', 'a SEND on A to the member suspended on B is refused');

  const bobGone = closed(bob);
  const bobOnB = await connect(t, b);
  await bobOnB.resume(bob.token, { popups: false });
  await bobOnB.request('LOGOUT');
  await bobGone; // A heard the logout: bob's own connection there is closed
  t.equal(await refusal(send(borrowed, bob.token)), 'BAD_TOKEN', 'the session logged out on B is refused on A, on the connection that kept it');

  const { password: davePassword } = await a.member('dave');
  const dave = await connect(t, a);
  await dave.login('dave', davePassword, { popups: false });
  const daveToken = dave.token;
  const davesBorrowed = await connect(t, a);
  t.equal(await refusal(send(davesBorrowed, daveToken)), 'accepted', 'dave\'s token sends on A from another connection');
  const daveGone = closed(dave);
  await admin.request('SUSPEND', { username: 'dave' });
  await daveGone;
  t.not(await refusal(send(davesBorrowed, daveToken)), 'accepted', 'the member suspended on B is refused on A, on the connection that kept its session');
});

t.test('a password set on node B lifts, on node A, the mailed-password restriction of the same session', async (t) => {
  if (!requireCapability(t, 'PostgreSQL', postgresMissing())) return;
  if (!requireCapability(t, 'Redis', redisMissing())) return;
  const { a, b } = await twoNodes(t);
  await a.member('alice');
  const { mailedPassword } = await a.approvedMember('erin');

  // erin's mailed-password session S, on B and resumed on A; another restricted session on A.
  const onB = await connect(t, b);
  await onB.login('erin', mailedPassword, { popups: false });
  const onA = await connect(t, a);
  await onA.resume(onB.token, { popups: false });
  const other = await connect(t, a);
  await other.login('erin', mailedPassword, { popups: false });
  const send = () => onA.request('SEND', { to: 'alice', subject: 'first' });
  t.equal(await refusal(send()), 'PASSWORD_CHANGE_REQUIRED', 'restricted on A (and kept so there)');

  const otherGone = closed(other);
  await onB.request('PASSWD', { old: mailedPassword, new: 'erin-own-password-1' });
  await otherGone; // the other session on A closed: A has heard B's events up to it
  t.equal(await refusal(send()), 'accepted', 'the session is no longer restricted on A');
  t.equal(await refusal(onA.request('PASSWD', { old: 'erin-own-password-1', new: 'erin-own-password-2' })), 'accepted',
    'A checks the password set on B, not the one it had read');
});

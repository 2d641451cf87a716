/**
 * The dispatcher keeps the hash of the last token each connection sent (one sha256 per session,
 * not per command): a connection that switches tokens must be answered as whoever each token is,
 * and a token whose session ended must be refused even though its hash is still remembered.
 */
import t from 'tap';
import { startServer } from '../helpers/siar.js';

t.test('one connection, several tokens: each request is answered as its own token', async (t) => {
  const s = await startServer(t);
  const alice = await s.memberClient('alice');
  const bob = await s.memberClient('bob');
  const script = await s.client();
  const whoami = async (token: string) => (await script.request('WHOAMI', {}, token)).args.get('username');
  t.equal(await whoami(alice.token), 'alice');
  t.equal(await whoami(alice.token), 'alice');
  t.equal(await whoami(bob.token), 'bob');
  t.equal(await whoami(alice.token), 'alice');
  await t.rejects(script.request('WHOAMI', {}, alice.token.slice(0, -1) + (alice.token.endsWith('A') ? 'B' : 'A')), { code: 'BAD_TOKEN' });

  await bob.request('LOGOUT');
  t.equal(await whoami(alice.token), 'alice');
  await t.rejects(script.request('WHOAMI', {}, bob.token), { code: 'BAD_TOKEN' }, 'a closed session, its hash remembered or not');
  await t.rejects(script.request('WHOAMI', {}, bob.token), { code: 'BAD_TOKEN' }, 'and again');
});

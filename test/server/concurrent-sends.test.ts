/**
 * Group commit through the real server (issue 8): many SENDs in flight at once from several
 * members are each acknowledged after their commit, each popped up once, each marked delivered.
 */
import t from 'tap';
import { collectPushes, startServer, type TestServer } from '../helpers/siar.js';

/** A logged-in member whose mailed (single-use) password has been replaced, so it may SEND. */
async function ownPasswordClient(s: TestServer, username: string) {
  const { password } = await s.member(username);
  const c = await s.client();
  const login = await c.login(username, password);
  if (login.mustChangePassword) await c.request('PASSWD', { old: password, new: `${password}-own` });
  return c;
}

t.test('300 pipelined SENDs from three members: all acknowledged, stored, popped up and marked delivered', async (t) => {
  const s = await startServer(t);
  const senders = await Promise.all(['unhas', 'ugm', 'itb'].map((u) => ownPasswordClient(s, u)));
  const reader = await ownPasswordClient(s, 'ui');
  const popups = collectPushes(reader, 'POPUP');

  // Every request is written before any reply is read, so the server has many SENDs to batch.
  const replies = await Promise.all(
    senders.flatMap((c, k) => Array.from({ length: 100 }, (_, i) => c.request('SEND', { to: 'ui', subject: `s${k}-${i}`, body: 'b' }))),
  );
  const ids = replies.map((r) => Number(r.args.get('id')));
  t.equal(new Set(ids).size, 300, 'each SEND got its own message id');

  const stored = await Promise.all(ids.map((id) => s.server.store.getMessage(id)));
  t.equal(stored.filter((m) => m !== null).length, 300, 'every acknowledged message is in the store');

  // Popups follow the acks; wait for all of them, then for the delivery marks (written after the pushes).
  const deadline = Date.now() + 60_000;
  while (popups.length < 300 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(popups.length, 300, 'the recipient got 300 popups');
  t.equal(new Set(popups.map((p) => p.get('id'))).size, 300, 'one per message, none twice');
  const undelivered = async () => (await s.server.store.inbox(stored[0]!.recipients[0]!.userId, { limit: 500 })).filter((e) => !e.deliveredAt).length;
  while ((await undelivered()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.equal(await undelivered(), 0, 'every message is marked delivered');
});

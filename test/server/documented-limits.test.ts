/**
 * Limits docs/PROTOCOL.md promises, checked on a real server: list pages (50 by default, 500 at
 * most; PENDING 200, AUDIT 100), `INBOX unread=1`, the popups replayed at login (1,000, oldest
 * first), the subject and body limits (200 / 49,152 characters, an emoji being one) and the popup
 * preview (280 characters).
 */
import t from 'tap';
import type { SiarClient } from '../../src/client/connection.js';
import { argsToPopup } from '../../src/protocol/index.js';
import { collectPushes, nextPush, ownPassword, startServer, until, type TestServer } from '../helpers/siar.js';

/** A member's client with its popups collected from before LOGIN, so the replay at login is seen whole. */
async function loginCollecting(s: TestServer, username: string): Promise<{ client: SiarClient; popups: () => number[]; unread: number }> {
  const client = await s.client();
  const pushed = collectPushes(client, 'POPUP');
  const login = await client.login(username, ownPassword(username));
  return { client, popups: () => pushed.map((a) => argsToPopup(a).id), unread: login.unread };
}

/**
 * Waits until the replay after a login is over: each popup pushed is marked delivered (`waiting`
 * of them were undelivered before the login) and no popup came for half a second.
 */
async function replayOver(popups: () => number[], undelivered: () => Promise<number>, waiting: number): Promise<void> {
  let seen = -1;
  let since = Date.now();
  await until('the replay at login is over', async () => {
    const n = popups().length;
    if (n !== seen) [seen, since] = [n, Date.now()];
    return n > 0 && Date.now() - since > 500 && (await undelivered()) === waiting - n;
  });
}

const ids = (items: Array<{ get(k: string): string | undefined }>): number[] => items.map((a) => Number(a.get('id')));

t.test('1,001 messages for a member who was away', async (t) => {
  // 1,001 messages from one member at once: past the per-member sending rate, which is not under test here.
  const s = await startServer(t, { maxPendingRegistrationsPerAddress: 1000, maxSendsPerMinute: 0 });
  const reader = (await s.member('reader')).username;
  const readerId = (await s.server.store.getUserByUsername(reader))!.id;
  const sender = await s.memberClient('sender');
  const replies = await Promise.all(Array.from({ length: 1001 }, (_, i) => (
    sender.request('SEND', { to: reader, subject: `Pengumuman ${i + 1}`, body: `Isi ${i + 1}` }))));
  const sent = ids(replies.map((r) => r.args));
  t.strictSame(sent, [...sent].sort((a, b) => a - b), 'stored in the order sent');
  const undelivered = async () => (await s.server.store.listUndelivered(readerId, 2000)).length;

  await t.test('LOGIN replays the oldest 1,000 popups, oldest first; the others follow at the next login', async (t) => {
    const first = await loginCollecting(s, reader);
    t.equal(first.unread, 1001, 'LOGIN counts every unread message');
    await replayOver(first.popups, undelivered, 1001);
    t.strictSame(first.popups(), sent.slice(0, 1000), 'exactly the oldest 1,000, oldest first');
    t.equal(await undelivered(), 1, 'the newest one is still waiting');
    await first.client.close();

    const left = await undelivered();
    const second = await loginCollecting(s, reader);
    await replayOver(second.popups, undelivered, left);
    t.strictSame(second.popups(), [sent[1000]], 'the next login brings the one left, and nothing twice');
  });

  await t.test('a list page holds 50 rows by default and 500 at most', async (t) => {
    const client = await s.memberClient(reader);
    const newestFirst = [...sent].reverse();
    const page = await client.request('INBOX');
    t.strictSame(ids(page.items), newestFirst.slice(0, 50), 'INBOX: the newest 50 by default');
    t.equal(page.args.get('count'), '50');
    t.strictSame(ids((await client.request('INBOX', { limit: 1001 })).items), newestFirst.slice(0, 500), 'INBOX: 500 at most');
    const next = await client.request('INBOX', { limit: 3, before: newestFirst[499] });
    t.strictSame(ids(next.items), newestFirst.slice(500, 503), 'before= goes on where a page ended');
    t.equal((await sender.request('OUTBOX')).items.length, 50, 'OUTBOX: 50 by default');
    t.equal((await sender.request('OUTBOX', { limit: 1001 })).items.length, 500, 'OUTBOX: 500 at most');
  });

  await t.test('INBOX unread=1 pages through unread messages only, however many read ones are newer', async (t) => {
    const client = await s.memberClient(reader);
    const newestFirst = [...sent].reverse();
    await Promise.all(newestFirst.slice(0, 55).map((id) => client.request('READ', { id })));
    const unread = await client.request('INBOX', { unread: 1 });
    t.strictSame(ids(unread.items), newestFirst.slice(55, 105), 'the newest 50 unread, past the 55 read ones');
    t.strictSame(unread.items.map((a) => a.get('readAt')), Array(50).fill(''), 'none of them read');
    t.strictSame([unread.args.get('count'), unread.args.get('unread')], ['50', '946'], 'count is the page, unread the total');
    const few = await client.request('INBOX', { unread: 1, limit: 2, before: newestFirst[60] });
    t.strictSame(ids(few.items), newestFirst.slice(61, 63), 'with limit and before too');
    const all = await client.request('INBOX', { limit: 1 });
    t.notSame(all.items[0]?.get('readAt'), '', 'without unread=1 the read ones are listed');
  });

  await t.test('PENDING lists 200 requests by default, AUDIT 100', async (t) => {
    const anon = await s.client();
    await Promise.all(Array.from({ length: 201 }, (_, i) => anon.request('REGISTER', {
      institution: `Institut ${i}`, contact: `Kontak ${i}`, email: `req${i}@example.ac.id`, username: `req${i}`,
    })));
    const admin = await s.adminClient();
    t.equal((await admin.request('PENDING')).items.length, 200, 'PENDING: 200 by default');
    t.equal((await admin.request('PENDING', { limit: 201 })).items.length, 201, 'PENDING: more when asked');
    t.equal((await admin.request('AUDIT')).items.length, 100, 'AUDIT: 100 by default');
    t.equal((await admin.request('AUDIT', { limit: 101 })).items.length, 101, 'AUDIT: more when asked');
  });
});

t.test('a subject holds 200 characters and a body 49,152, counted as people count them (an emoji is one)', async (t) => {
  // Room in a frame for 49,152 four-byte characters (the frame limit is in bytes, 64 KiB by default).
  const s = await startServer(t, { maxFrameBytes: 256 * 1024 });
  await s.member('ugm');
  const unhas = await s.memberClient('unhas');
  const send = (subject: string, body = '') => unhas.request('SEND', { to: 'ugm', subject, body });

  for (const [what, unit] of [['letters', 'a'], ['emoji', '😀']] as const) {
    const ok = await send(unit.repeat(200), unit.repeat(49_152));
    const read = await unhas.request('READ', { id: ok.args.get('id')! });
    t.strictSame([read.args.get('subject'), read.args.get('body')], [unit.repeat(200), unit.repeat(49_152)], `200 and 49,152 ${what} are kept whole`);
    await t.rejects(send(unit.repeat(201)), { code: 'BAD_ARGUMENT', message: 'Subject is longer than 200 characters.' }, `201 ${what} in a subject are refused`);
    await t.rejects(send('x', unit.repeat(49_153)), { code: 'BAD_ARGUMENT', message: 'Body is longer than 49152 characters.' }, `49,153 ${what} in a body are refused`);
  }
  t.equal((await unhas.request('OUTBOX')).items.length, 2, 'nothing refused was stored');
});

t.test('a popup previews at most 280 characters of the body, never half a character', async (t) => {
  const s = await startServer(t);
  await s.member('unhas');
  const ugm = await s.memberClient('ugm');
  const unhas = await s.memberClient('unhas');
  const preview = async (body: string): Promise<string> => {
    const popup = nextPush(ugm, 'POPUP');
    await unhas.request('SEND', { to: 'ugm', subject: 'Pratinjau', body });
    return argsToPopup(await popup).preview;
  };
  const exact = 'b'.repeat(279) + 'é';
  t.equal(await preview(exact), exact, 'a body of 280 characters is the preview');
  t.equal(await preview('c'.repeat(281)), `${'c'.repeat(279)}…`, 'a longer one: its first 279 characters and "…"');
  t.equal(await preview('a'.repeat(278) + '😀'.repeat(5)), `${'a'.repeat(278)}😀…`, 'an emoji at the cut is kept whole');
  t.equal(await preview('😀'.repeat(280)), '😀'.repeat(280), '280 emoji are 280 characters: no cut');
});

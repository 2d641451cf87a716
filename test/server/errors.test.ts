import t from 'tap';
import { RawPeer, startServer } from '../helpers/siar.js';

t.test('each bad frame gets its own error code and the server keeps serving', async (t) => {
  const s = await startServer(t);
  const peer = await RawPeer.connect(t, s.port);
  const bystander = await s.client();

  t.match(await peer.ask('1|NOPE'), /^1\|ERR\|UNKNOWN_COMMAND\|/, 'unknown command');
  t.match(await peer.ask('2|REGISTER||institution'), /^2\|ERR\|BAD_ARGUMENT\|/, 'argument without =');
  t.match(await peer.ask('3|REGISTER||institution=x\\q'), /^3\|ERR\|BAD_ESCAPE\|/, 'unknown escape');
  t.match(await peer.ask('4|INBOX'), /^4\|ERR\|AUTH_REQUIRED\|/, 'no token');
  t.match(await peer.ask('5|INBOX|not-a-token'), /^5\|ERR\|BAD_TOKEN\|/, 'bad token');
  t.match(await peer.ask('6|LOGIN||username=nobody|password=x'), /^6\|ERR\|BAD_CREDENTIALS\|/, 'unknown user');
  t.match(await peer.ask('7|READ|x|id=abc'), /^7\|ERR\|BAD_TOKEN\|/, 'token checked before arguments');
  peer.write('!!!\n');
  await peer.waitLines(9);
  t.match(peer.lines.at(-1), /^-\|ERR\|BAD_FRAME\|/, 'a frame without an id is answered with id -');
  peer.write(Buffer.from([0x38, 0x7c, 0x50, 0x49, 0x4e, 0x47, 0xff, 0x0a]));
  await peer.waitLines(10);
  t.match(peer.lines.at(-1), /^-\|ERR\|BAD_UTF8\|/, 'invalid UTF-8');
  t.match(await peer.ask('9|PING'), /^9\|OK\|pong=1$/, 'the same connection still works');
  t.equal((await bystander.request('PING')).args.get('pong'), '1', 'other clients are unaffected');
});

t.test('an oversize frame is refused with FRAME_TOO_LONG and the connection closes', async (t) => {
  const s = await startServer(t, { maxFrameBytes: 1024 });
  const peer = await RawPeer.connect(t, s.port);
  peer.write('1|PING||x=' + 'a'.repeat(2000)); // no newline: refused while reading
  await peer.waitClosed();
  t.match(peer.lines.at(-1), /^-\|ERR\|FRAME_TOO_LONG\|/);
  const other = await s.client();
  t.equal((await other.request('PING')).args.get('pong'), '1', 'the server keeps serving');
});

t.test('HELLO announces the limits; a client refuses a longer request itself and stays connected', async (t) => {
  const s = await startServer(t, { maxFrameBytes: 4096, maxBodyChars: 1000, maxSubjectChars: 50 });
  await s.member('snd');
  const c = await s.memberClient('snd');
  t.match((await c.hello).toObject(), { maxFrame: '4096', maxBody: '1000', maxSubject: '50' });
  t.same(c.limits, { maxFrame: 4096, maxBody: 1000, maxSubject: 50 });
  await t.rejects(c.request('SEND', { to: 'snd', subject: 'x', body: '\n'.repeat(3000) }), { code: 'FRAME_TOO_LONG', maxBytes: 4096, message: /Nothing was sent/ });
  t.equal((await c.request('PING')).args.get('pong'), '1', 'the connection is still open');
  t.same((await c.request('OUTBOX')).items, [], 'nothing was sent');
});

t.test('terminal control characters are refused in e-mail addresses and attachment names', async (t) => {
  const s = await startServer(t);
  const c = await s.client();
  const base = { institution: 'Univ', contact: 'C', username: 'univ' };
  for (const email of ['a\u001b[2J@univ.ac.id', 'a\u0085b@univ.ac.id', 'a\u202eb@univ.ac.id']) {
    await t.rejects(c.request('REGISTER', { ...base, email }), { code: 'BAD_EMAIL' }, JSON.stringify(email));
  }
  await s.member('snd');
  const snd = await s.memberClient('snd');
  const sha = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  for (const [name, why] of [[`${'é'.repeat(126)}.txt`, /longer than 255 bytes/], ['gambar\u202etxt.exe', /bidirectional-override/], ['csi\u009b2J', /control/]] as const) {
    await t.rejects(snd.request('SEND', { to: 'snd', subject: 'x', attach: [`0,${sha},${name}`] }), { code: 'BAD_ARGUMENT', message: why }, JSON.stringify(name));
  }
  t.same((await snd.request('OUTBOX')).items, [], 'nothing was stored');
});

t.test('too many bad frames close the connection', async (t) => {
  const s = await startServer(t, { maxBadFrames: 3 });
  const peer = await RawPeer.connect(t, s.port);
  peer.write('a\nb\nc\nd\n');
  await peer.waitClosed();
  t.match(peer.lines.at(-1), /^-\|ERR\|TOO_MANY_ERRORS\|/);
});

t.test('an expired token is refused with TOKEN_EXPIRED; the connection that logged in with it is closed with SESSION_EXPIRED', async (t) => {
  const first = await startServer(t);
  const { password } = await first.member('exp');
  await first.server.stop();
  const s = await startServer(t, { sessionTtlMs: 1 }, first.dataDir);
  const c = await s.client();
  const closed = new Promise<Error | null>((resolve) => c.once('close', resolve));
  const token = (await c.login('exp', password)).token;
  t.match(await closed, { code: 'SESSION_EXPIRED' }, 'the session\'s own connection is told and closed');
  const other = await s.client();
  await t.rejects(other.request('INBOX', {}, token), { code: 'TOKEN_EXPIRED' });
  await t.rejects(other.request('INBOX', {}, token), { code: 'BAD_TOKEN' }, 'an expired session is closed for good');
});

t.test('a logged-out token is no longer accepted', async (t) => {
  const s = await startServer(t);
  await s.member('out');
  const c = await s.memberClient('out');
  await c.request('LOGOUT');
  await t.rejects(c.request('INBOX'), { code: 'BAD_TOKEN' });
});

t.test('registration errors: duplicates, malformed e-mail, missing fields', async (t) => {
  const s = await startServer(t);
  const c = await s.client();
  const base = { institution: 'Univ', contact: 'C', email: 'a@univ.ac.id', username: 'univ' };
  await c.request('REGISTER', base);
  await t.rejects(c.request('REGISTER', { ...base, email: 'b@univ.ac.id' }), { code: 'DUPLICATE_USERNAME' });
  await t.rejects(c.request('REGISTER', { ...base, username: 'univ2', email: 'A@UNIV.AC.ID' }), { code: 'DUPLICATE_EMAIL' });
  await t.rejects(c.request('REGISTER', { ...base, username: 'univ3', email: 'not an address' }), { code: 'BAD_EMAIL' });
  await t.rejects(c.request('REGISTER', { ...base, username: 'univ4', contact: '' }), { code: 'MISSING_ARGUMENT', message: /Contact person/ });
  await t.rejects(c.request('REGISTER', { ...base, username: 'Bad Name!' }), { code: 'BAD_ARGUMENT' });
  await t.rejects(c.request('REGISTER', { ...base, username: 'admin', email: 'z@univ.ac.id' }), { code: 'DUPLICATE_USERNAME' });
  await s.member('taken');
  await t.rejects(c.request('REGISTER', { ...base, username: 'taken', email: 'q@univ.ac.id' }), { code: 'DUPLICATE_USERNAME' }, 'an existing member');
});

t.test('an unknown recipient sends nothing, not even to the known ones', async (t) => {
  const s = await startServer(t);
  await s.member('snd');
  await s.member('rcv');
  const snd = await s.memberClient('snd');
  await t.rejects(snd.request('SEND', { to: ['rcv', 'ghost'], subject: 'x' }), { code: 'UNKNOWN_RECIPIENT', message: /ghost/ });
  await t.rejects(snd.request('SEND', { subject: 'x' }), { code: 'NO_RECIPIENTS' });
  await t.rejects(snd.request('SEND', { to: 'rcv' }), { code: 'MISSING_ARGUMENT' });
  t.same((await snd.request('OUTBOX')).items, [], 'nothing was stored');
  const rcv = await s.memberClient('rcv');
  t.same((await rcv.request('INBOX')).items, [], 'nothing arrived');
});

t.test('a member can never run admin commands nor read others\' messages', async (t) => {
  const s = await startServer(t);
  await s.member('m1');
  await s.member('m2');
  await s.member('m3');
  const m1 = await s.memberClient('m1');
  for (const verb of ['PENDING', 'APPROVE', 'REJECT', 'MEMBERS', 'SUSPEND', 'REACTIVATE', 'ONLINE']) {
    await t.rejects(m1.request(verb, { id: 1, username: 'm2', reason: 'x' }), { code: 'FORBIDDEN' }, `${verb} is refused`);
  }
  const m2 = await s.memberClient('m2');
  const sent = await m2.request('SEND', { to: 'm3', subject: 'private' });
  await t.rejects(m1.request('READ', { id: sent.args.get('id')! }), { code: 'NOT_FOUND' }, 'not the reader\'s message');
  await t.rejects(m1.request('DELETE', { id: sent.args.get('id')! }), { code: 'NOT_FOUND' });
  await t.rejects(m1.request('READ', { id: 999 }), { code: 'NOT_FOUND' }, 'same answer as a missing id');
});

t.test('an idle connection is closed with TIMEOUT', async (t) => {
  const s = await startServer(t, { idleTimeoutMs: 200 });
  const peer = await RawPeer.connect(t, s.port);
  await peer.waitClosed();
  t.match(peer.lines.at(-1), /^-\|ERR\|TIMEOUT\|/);
});

t.test('replies to a pipelining client come back in order with their ids', async (t) => {
  const s = await startServer(t);
  const peer = await RawPeer.connect(t, s.port);
  peer.write(Array.from({ length: 50 }, (_, i) => `p${i}|PING`).join('\n') + '\n');
  const lines = await peer.waitLines(51);
  t.same(lines.slice(1, 51).map((l) => l.split('|')[0]), Array.from({ length: 50 }, (_, i) => `p${i}`));
});

t.test('the log never holds passwords, tokens or message bodies', async (t) => {
  const s = await startServer(t);
  const { password } = await s.member('logged');
  const c = await s.memberClient('logged');
  await c.request('SEND', { to: 'logged', subject: 'subj', body: 'SECRET-BODY-TEXT' });
  await c.request('INBOX');
  const out = s.logs.output;
  t.notMatch(out, password, 'no password');
  t.notMatch(out, s.adminPassword(), 'no admin password');
  t.notMatch(out, c.token, 'no token');
  t.notMatch(out, 'SECRET-BODY-TEXT', 'no body');
  t.match(out, /"msg":"login"/, 'logins are logged');
  t.match(out, /registration approved/, 'approvals are logged');
});

/** Channels (issue #4) against a real server over real sockets. */
import t from 'tap';
import { argsToChannel, argsToDirectoryEntry, argsToMessage, argsToPopup, argsToRoster } from '../../src/protocol/index.js';
import type { SiarClient } from '../../src/client/connection.js';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { declareFile, sendMessage } from '../../src/client/transfer.js';
import { RawPeer, collectPushes, nextPush, startServer, tempDir, type TestServer, ownPassword } from '../helpers/siar.js';

/** Sends PING and waits for its reply: every push the server wrote before it has arrived. */
async function settle(...clients: SiarClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.request('PING')));
}

async function outboxEntry(c: SiarClient, id: string | number) {
  const m = (await c.request('OUTBOX')).items.map(argsToMessage).find((x) => x.id === Number(id));
  if (!m) throw new Error(`message ${id} not in the outbox`);
  return m;
}

/** Waits until every recipient of message `id` is marked delivered (so all live popups are written). */
async function delivered(s: TestServer, id: string | number, expected: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const m = await s.server.store.getMessage(Number(id));
    if (m && m.recipients.filter((r) => r.deliveredAt).length >= expected) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`message ${id} was not delivered to ${expected} recipients`);
}

t.test('an open channel: create, list, subscribe, publish with popups and via, unsubscribe', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  for (const u of ['unhas', 'ugm', 'itb']) await s.member(u);
  const unhas = await s.memberClient('unhas');
  const ugm = await s.memberClient('ugm');
  const itb = await s.memberClient('itb');

  const created = await admin.request('CHANNEL_CREATE', { name: 'Beasiswa', description: 'Scholarships for students' });
  t.match(argsToChannel(created.args), { name: 'beasiswa', access: 'open', publish: 'subscribers', archived: false, subscribers: 0 });
  await t.rejects(admin.request('CHANNEL_CREATE', { name: 'beasiswa' }), { code: 'DUPLICATE_NAME' });
  await t.rejects(ugm.request('CHANNEL_CREATE', { name: 'x1' }), { code: 'FORBIDDEN' }, 'members cannot create channels');

  const listed = (await ugm.request('CHANNELS')).items.map(argsToChannel);
  t.match(listed, [{ name: 'beasiswa', description: 'Scholarships for students', subscribed: false, canSubscribe: true, canPublish: false }]);

  const sub = await ugm.request('SUBSCRIBE', { name: '#beasiswa' });
  t.same([sub.args.get('subscribed'), sub.args.get('changed')], ['1', '1']);
  t.equal((await ugm.request('SUBSCRIBE', { name: 'beasiswa' })).args.get('changed'), '0', 'subscribing twice changes nothing');
  await itb.request('SUBSCRIBE', { name: 'beasiswa' });
  await unhas.request('SUBSCRIBE', { name: 'beasiswa' });
  t.match(argsToChannel((await ugm.request('CHANNEL', { name: 'beasiswa' })).args), { subscribed: true, canPublish: true, subscribers: 3 });

  // A subscriber publishes: every other subscriber gets the popup, saying it came through #beasiswa.
  const ugmPopups = collectPushes(ugm, 'POPUP');
  const itbPopup = nextPush(itb, 'POPUP');
  const unhasPopups = collectPushes(unhas, 'POPUP');
  const sent = await ugm.request('SEND', { channel: 'beasiswa', subject: 'LPDP 2025', body: 'Deadline in May' });
  t.same([sent.args.get('audience'), sent.args.get('recipients'), sent.args.get('via')], ['channel', '2', '#beasiswa']);
  const popup = argsToPopup(await itbPopup);
  t.match(popup, { id: Number(sent.args.get('id')), from: 'ugm', subject: 'LPDP 2025', via: '#beasiswa' });
  await delivered(s, sent.args.get('id')!, 2);
  await settle(ugm, unhas);
  t.equal(unhasPopups.length, 1, 'the other subscriber got it once');
  t.equal(ugmPopups.length, 0, 'the publisher does not get its own message');

  // The inbox says how it came; the outbox has each subscriber's state; a reader sees the channel, not the subscribers.
  const inbox = (await itb.request('INBOX')).items.map(argsToMessage);
  t.match(inbox, [{ id: popup.id, via: '#beasiswa' }]);
  const out = await outboxEntry(ugm, popup.id);
  t.equal(out.audience, 'channel');
  t.equal(out.via, '#beasiswa');
  t.same(out.recipients!.map((r) => [r.username, r.via, !!r.deliveredAt]), [['itb', '#beasiswa', true], ['unhas', '#beasiswa', true]]);
  const read = argsToMessage((await itb.request('READ', { id: popup.id })).args);
  t.same(read.to, ['#beasiswa'], 'a reader does not learn who else is subscribed');
  t.equal(read.via, '#beasiswa');

  // Unsubscribed: the next message does not reach it; the admin may publish without subscribing.
  const unsub = collectPushes(itb, 'SUBSCRIPTION');
  t.equal((await itb.request('UNSUBSCRIBE', { name: 'beasiswa' })).args.get('changed'), '1');
  t.equal((await itb.request('UNSUBSCRIBE', { name: 'beasiswa' })).args.get('changed'), '0');
  await settle(itb);
  t.match(unsub.map((a) => a.toObject()), [{ name: 'beasiswa', subscribed: '0', by: 'self' }], 'its sessions hear of the change');
  const second = await admin.request('SEND', { channel: 'beasiswa', subject: 'From the admin' });
  t.equal(second.args.get('recipients'), '2', 'ugm and unhas');
  await delivered(s, second.args.get('id')!, 2);
  await settle(itb);
  t.notOk((await itb.request('INBOX')).items.some((a) => a.get('id') === second.args.get('id')), 'the unsubscribed member got nothing');
});

t.test('errors: unknown channel, not subscribed, bad addressing, member-only verbs', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  await s.member('aa');
  await s.member('bb');
  const aa = await s.memberClient('aa');
  await admin.request('CHANNEL_CREATE', { name: 'seminar' });

  await t.rejects(aa.request('SEND', { channel: 'nope', subject: 'x' }), { code: 'UNKNOWN_CHANNEL' });
  await t.rejects(aa.request('SUBSCRIBE', { name: 'nope' }), { code: 'UNKNOWN_CHANNEL' });
  await t.rejects(aa.request('UNSUBSCRIBE', { name: 'nope' }), { code: 'UNKNOWN_CHANNEL' });
  await t.rejects(aa.request('SEND', { channel: 'seminar', subject: 'x' }), { code: 'PUBLISH_DENIED', message: /subscribe first/ });
  await t.rejects(aa.request('SEND', { channel: 'seminar', to: 'bb', subject: 'x' }), { code: 'BAD_ARGUMENT' });
  await t.rejects(aa.request('SEND', { channel: 'Not a name!', subject: 'x' }), { code: 'BAD_ARGUMENT' });
  await t.rejects(aa.request('SUBSCRIBE', {}), { code: 'MISSING_ARGUMENT' });
  await t.rejects(admin.request('SUBSCRIBE', { name: 'seminar' }), { code: 'FORBIDDEN' }, 'the administrator does not subscribe');
  await t.rejects(admin.request('CHANNEL_CREATE', { name: 'x2', access: 'secret' }), { code: 'BAD_ARGUMENT' });
  await t.rejects(admin.request('CHANNEL_CREATE', { name: 'x3', members: 'ghost' }), { code: 'NOT_FOUND' });
  t.equal(await s.server.store.getChannel('x3'), null, 'a refused create leaves nothing behind');
  await t.rejects(admin.request('CHANNEL_UPDATE', { name: 'seminar' }), { code: 'MISSING_ARGUMENT' });
  t.equal((await aa.request('INBOX')).items.length, 0);
  t.equal((await s.server.store.outbox((await s.server.store.getUserByUsername('aa'))!.id, { limit: 10 })).length, 0, 'nothing was stored');
});

t.test('an offline subscriber gets the channel\'s messages at its next login, in order, once', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  await admin.request('CHANNEL_CREATE', { name: 'pengumuman-rektor', publish: 'named' });
  await s.member('rektorat');
  await s.member('away');
  await admin.request('CHANNEL_GRANT', { name: 'pengumuman-rektor', username: 'rektorat', role: 'publisher' });
  const away = await s.memberClient('away');
  await away.request('SUBSCRIBE', { name: 'pengumuman-rektor' });
  await away.close();

  const rektorat = await s.memberClient('rektorat');
  const ids: string[] = [];
  for (const subject of ['Wisuda', 'Libur', 'Rapat senat']) {
    const r = await rektorat.request('SEND', { channel: 'pengumuman-rektor', subject });
    t.equal(r.args.get('recipients'), '1');
    ids.push(r.args.get('id')!);
  }
  const out = await outboxEntry(rektorat, ids[0]!);
  t.same(out.recipients!.map((r) => [r.username, r.deliveredAt]), [['away', null]], 'stored, waiting for the offline subscriber');

  const back = await s.client();
  const popups = collectPushes(back, 'POPUP');
  const last = nextPush(back, 'POPUP', (a) => a.get('id') === ids[2]);
  await back.login('away', ownPassword('away'));
  await last;
  await settle(back);
  t.same(popups.map((a) => [a.get('subject'), a.get('via')]), [['Wisuda', '#pengumuman-rektor'], ['Libur', '#pengumuman-rektor'], ['Rapat senat', '#pengumuman-rektor']]);
  t.ok((await outboxEntry(rektorat, ids[0]!)).recipients![0]!.deliveredAt, 'the publisher sees it delivered');
  const again = await s.client();
  const none = collectPushes(again, 'POPUP');
  await again.login('away', ownPassword('away'));
  await settle(again);
  t.same(none, [], 'a second login replays nothing');
});

t.test('a restricted channel refuses outsiders as subscribers and as publishers', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  for (const u of ['dekan1', 'dekan2', 'outsider']) await s.member(u);
  const created = await admin.request('CHANNEL_CREATE', { name: 'dekanat', access: 'restricted', members: 'dekan1,dekan2' });
  t.equal(created.args.get('access'), 'restricted');
  const d1 = await s.memberClient('dekan1');
  const d2 = await s.memberClient('dekan2');
  const out = await s.memberClient('outsider');

  t.same((await out.request('CHANNELS')).items, [], 'an outsider does not see it listed');
  t.match(argsToChannel((await out.request('CHANNEL', { name: 'dekanat' })).args), { access: 'restricted', canSubscribe: false, canPublish: false });
  await t.rejects(out.request('SUBSCRIBE', { name: 'dekanat' }), { code: 'CHANNEL_RESTRICTED' });
  await t.rejects(out.request('SEND', { channel: 'dekanat', subject: 'hi' }), { code: 'CHANNEL_RESTRICTED' });
  await t.rejects(out.request('CHANNEL_HISTORY', { name: 'dekanat' }), { code: 'CHANNEL_RESTRICTED' });

  t.match((await d1.request('CHANNELS')).items.map(argsToChannel), [{ name: 'dekanat', canSubscribe: true }]);
  await d1.request('SUBSCRIBE', { name: 'dekanat' });
  await d2.request('SUBSCRIBE', { name: 'dekanat' });
  const sent = await d1.request('SEND', { channel: 'dekanat', subject: 'Rapat' });
  t.equal(sent.args.get('recipients'), '1');

  const roster = (await admin.request('CHANNEL', { name: 'dekanat' })).items.map(argsToRoster);
  t.match(roster, [
    { username: 'dekan1', member: true, publisher: false, subscribed: true },
    { username: 'dekan2', member: true, publisher: false, subscribed: true },
  ]);

  // Taking dekan2 out of the channel drops its subscription too; it is told.
  const told = nextPush(d2, 'SUBSCRIPTION');
  const revoked = await admin.request('CHANNEL_REVOKE', { name: 'dekanat', username: 'dekan2' });
  t.same([revoked.args.get('revoked'), revoked.args.get('dropped')], ['1', '1']);
  t.match((await told).toObject(), { name: 'dekanat', subscribed: '0', by: 'admin' });
  await t.rejects(d2.request('SEND', { channel: 'dekanat', subject: 'x' }), { code: 'CHANNEL_RESTRICTED' });
  await t.rejects(d2.request('SUBSCRIBE', { name: 'dekanat' }), { code: 'CHANNEL_RESTRICTED' });

  // An open channel made restricted keeps only the subscribers the administrator named.
  await admin.request('CHANNEL_CREATE', { name: 'umum' });
  await out.request('SUBSCRIBE', { name: 'umum' });
  await d1.request('SUBSCRIBE', { name: 'umum' });
  const made = await admin.request('CHANNEL_UPDATE', { name: 'umum', access: 'restricted', description: 'Now restricted' });
  t.equal(made.args.get('dropped'), '2', 'both subscribers were outsiders');
  await admin.request('CHANNEL_GRANT', { name: 'umum', username: ['dekan1'] });
  await d1.request('SUBSCRIBE', { name: 'umum' });
  const ch = argsToChannel((await admin.request('CHANNEL', { name: 'umum' })).args);
  t.match(ch, { description: 'Now restricted', access: 'restricted', subscribers: 1 });

  const audit = await s.server.store.listAudit({}, { limit: 50 });
  t.same(
    audit.map((e) => e.kind).filter((k) => k.startsWith('channel_')).reverse(),
    ['channel_created', 'channel_revoked', 'channel_created', 'channel_updated', 'channel_granted'],
    'every administrator action is audited',
  );
  t.match(audit.find((e) => e.kind === 'channel_revoked'), { subject: 'dekanat', detail: { role: 'member', usernames: ['dekan2'] } });
});

t.test('named publishers: only they may publish; subscribers just receive', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  for (const u of ['pub', 'reader']) await s.member(u);
  await admin.request('CHANNEL_CREATE', { name: 'kabar', publish: 'named', publishers: 'pub' });
  const pub = await s.memberClient('pub');
  const reader = await s.memberClient('reader');
  await reader.request('SUBSCRIBE', { name: 'kabar' });
  t.match(argsToChannel((await reader.request('CHANNEL', { name: 'kabar' })).args), { subscribed: true, canPublish: false });
  await t.rejects(reader.request('SEND', { channel: 'kabar', subject: 'x' }), { code: 'PUBLISH_DENIED', message: /publishers the administrator named/ });
  t.match(argsToChannel((await pub.request('CHANNEL', { name: 'kabar' })).args), { subscribed: false, canPublish: true });
  const p = nextPush(reader, 'POPUP');
  t.equal((await pub.request('SEND', { channel: 'kabar', subject: 'Berita' })).args.get('recipients'), '1');
  t.equal((await p).get('via'), '#kabar');
});

t.test('an archived channel refuses new messages but keeps its history', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  for (const u of ['aa', 'bb']) await s.member(u);
  await admin.request('CHANNEL_CREATE', { name: 'lama' });
  const aa = await s.memberClient('aa');
  const bb = await s.memberClient('bb');
  await aa.request('SUBSCRIBE', { name: 'lama' });
  await bb.request('SUBSCRIBE', { name: 'lama' });
  const first = await aa.request('SEND', { channel: 'lama', subject: 'Sebelum arsip', body: 'isi' });

  const archived = await admin.request('CHANNEL_ARCHIVE', { name: 'lama' });
  t.same([archived.args.get('archived'), archived.args.get('changed')], ['1', '1']);
  t.ok(archived.args.get('archivedAt'));
  t.equal((await admin.request('CHANNEL_ARCHIVE', { name: 'lama' })).args.get('changed'), '0', 'archiving twice changes nothing');
  await t.rejects(aa.request('SEND', { channel: 'lama', subject: 'Sesudah' }), { code: 'CHANNEL_ARCHIVED' });
  await t.rejects(admin.request('SEND', { channel: 'lama', subject: 'Sesudah' }), { code: 'CHANNEL_ARCHIVED' }, 'not even the administrator');
  await t.rejects(bb.request('UNSUBSCRIBE', { name: 'lama' }).then(() => bb.request('SUBSCRIBE', { name: 'lama' })), { code: 'CHANNEL_ARCHIVED' });

  // History stays: in the channel, in the inbox and in the outbox.
  const history = (await bb.request('CHANNEL_HISTORY', { name: 'lama' })).items.map(argsToMessage);
  t.match(history, [{ id: Number(first.args.get('id')), from: 'aa', subject: 'Sebelum arsip', body: 'isi', audience: 'channel', to: ['#lama'] }]);
  t.equal(history[0]!.recipients, undefined, 'a member does not see the subscribers\' state');
  t.match((await admin.request('CHANNEL_HISTORY', { name: 'lama' })).items.map(argsToMessage), [{ recipients: [{ username: 'bb' }] }]);
  t.ok((await bb.request('INBOX')).items.some((a) => a.get('id') === first.args.get('id')));
  t.same((await aa.request('CHANNELS')).items, [], 'archived channels are not listed by default');
  t.match((await aa.request('CHANNELS', { archived: 1 })).items.map(argsToChannel), [{ name: 'lama', archived: true, subscribed: true, canPublish: false }]);

  await admin.request('CHANNEL_UNARCHIVE', { name: 'lama' });
  t.equal((await aa.request('SEND', { channel: 'lama', subject: 'Lagi' })).args.get('recipients'), '0', 'bb unsubscribed meanwhile');
  t.equal((await bb.request('CHANNEL_HISTORY', { name: 'lama' })).items.length, 2);
});

t.test('a channel archived between the checks and the commit still refuses the message', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  await s.member('aa');
  await admin.request('CHANNEL_CREATE', { name: 'race' });
  const aa = await s.memberClient('aa');
  await aa.request('SUBSCRIBE', { name: 'race' });
  const channel = (await s.server.store.getChannel('race'))!;
  await s.server.store.setChannelArchived(channel.id, true);
  const user = (await s.server.store.getUserByUsername('aa'))!;
  await t.rejects(
    s.server.store.storeMessage({ senderId: user.id, audience: 'channel', recipientIds: [], subject: 'x', body: '', channelId: channel.id }),
    { name: 'StoreError', kind: 'archived' },
  );
  t.same(await s.server.store.outbox(user.id, { limit: 5 }), [], 'nothing half-stored');
});

t.test('a channel message carries attachments: it pops up at the subscribers of the SEND when its last file is in', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  for (const u of ['pub', 'sub', 'late']) await s.member(u);
  await admin.request('CHANNEL_CREATE', { name: 'berkas', publish: 'named', publishers: 'pub' });
  const pub = await s.memberClient('pub');
  const sub = await s.memberClient('sub');
  const late = await s.memberClient('late');
  await sub.request('SUBSCRIBE', { name: 'berkas' });
  const dir = tempDir(t);
  const file = path.join(dir, 'jadwal seminar.txt');
  writeFileSync(file, 'Senin: pembukaan\nSelasa: diskusi\n');
  // Declared but never uploaded: not in the channel's history.
  const pending = await pub.request('SEND', { channel: 'berkas', subject: 'Belum', attach: (await import('../../src/client/transfer.js')).encodeDeclaration(await declareFile(file)) });
  t.equal(pending.args.get('state'), 'sending');
  t.same((await sub.request('CHANNEL_HISTORY', { name: 'berkas' })).items, [], 'a message still waiting for its files is not in the history');
  await pub.request('CANCEL', { id: pending.args.get('id')! });
  const popup = nextPush(sub, 'POPUP');
  const sent = await sendMessage(pub, { channel: 'berkas', subject: 'Jadwal' }, [await declareFile(file)]);
  t.match(sent, { recipients: 1, state: 'sent' });
  await late.request('SUBSCRIBE', { name: 'berkas' }); // after the SEND: not a recipient
  t.match(argsToPopup(await popup), { id: sent.id, via: '#berkas', attachments: ['jadwal seminar.txt'] });
  const inbox = (await sub.request('INBOX')).items.map(argsToMessage);
  t.match(inbox, [{ id: sent.id, via: '#berkas', attachments: [{ name: 'jadwal seminar.txt' }] }]);
  await settle(late);
  t.same((await late.request('INBOX')).items, [], 'subscribing later does not bring it');
  const out = (await pub.request('OUTBOX')).items.map(argsToMessage)[0]!;
  t.same(out.recipients!.map((r) => [r.username, r.via]), [['sub', '#berkas']]);
  t.same((await sub.request('CHANNEL_HISTORY', { name: 'berkas' })).items.map((a) => a.get('subject')), ['Jadwal'], 'the cancelled one never shows');
});

t.test('DIRECTORY lists members as before, then channels and groups', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  for (const u of ['aa', 'bb']) await s.member(u);
  const aa = await s.memberClient('aa');
  const before = await aa.request('DIRECTORY');
  t.same(before.items.map((a) => [a.get('username'), a.get('online')]), [['aa', '1'], ['bb', '0']], 'member rows unchanged');

  await admin.request('CHANNEL_CREATE', { name: 'beasiswa', description: 'Scholarships' });
  await admin.request('CHANNEL_CREATE', { name: 'rahasia', access: 'restricted' });
  await admin.request('CHANNEL_CREATE', { name: 'arsip' });
  await admin.request('CHANNEL_ARCHIVE', { name: 'arsip' });
  await admin.request('GROUP_CREATE', { name: 'ptn-sulawesi', members: 'aa,bb', description: 'Sulawesi' });
  const dir = await aa.request('DIRECTORY');
  t.same(dir.items.map(argsToDirectoryEntry).map((e) => [e.kind, e.kind === 'member' ? e.username : e.name]), [
    ['member', 'aa'], ['member', 'bb'], ['channel', 'beasiswa'], ['group', 'ptn-sulawesi'],
  ], 'restricted channels the member is not in and archived ones are left out');
  t.same([dir.args.get('count'), dir.args.get('members'), dir.args.get('channels'), dir.args.get('groups')], ['4', '2', '1', '1']);
  t.match(dir.items.map(argsToDirectoryEntry)[3], { kind: 'group', members: 2, isMember: true, description: 'Sulawesi' });
  t.same((await aa.request('DIRECTORY', { kind: 'channel' })).items.map((a) => a.get('name')), ['beasiswa']);
  await t.rejects(aa.request('DIRECTORY', { kind: 'planet' }), { code: 'BAD_ARGUMENT' });
});

t.test('the protocol by hand, as with nc', async (t) => {
  const s = await startServer(t);
  await s.member('unhas');
  await s.member('ugm');
  const admin = await RawPeer.connect(t, s.port);
  const login = await admin.ask(`1|LOGIN||username=admin|password=${s.adminPassword()}`);
  const token = /token=([^|]+)/.exec(login)![1]!;
  t.match(
    await admin.ask(`2|CHANNEL_CREATE|${token}|name=beasiswa|description=Info beasiswa`),
    /^2\|OK\|name=beasiswa\|description=Info beasiswa\|access=open\|publish=subscribers\|archived=0\|createdAt=[^|]+\|subscribers=0\|subscribed=0\|canSubscribe=0\|canPublish=1$/,
  );

  const ugm = await RawPeer.connect(t, s.port);
  const ugmToken = /token=([^|]+)/.exec(await ugm.ask(`1|LOGIN||username=ugm|password=${ownPassword('ugm')}`))![1]!;
  t.match(await ugm.ask(`2|SUBSCRIBE|${ugmToken}|name=beasiswa`), /^2\|OK\|name=beasiswa\|subscribed=1\|changed=1$/);
  t.match(await ugm.ask(`3|CHANNELS|${ugmToken}`), /^3\|ITEM\|name=beasiswa\|.*\|subscribed=1\|canSubscribe=1\|canPublish=1$/);
  t.match(await ugm.ask(`4|SEND|${ugmToken}|channel=nope|subject=x`), /^4\|ERR\|UNKNOWN_CHANNEL\|There is no channel named nope\.$/);
  const from = ugm.lines.length;
  t.match(await admin.ask(`3|SEND|${token}|channel=beasiswa|subject=LPDP|body=Baris satu`), /^3\|OK\|id=\d+\|sentAt=[^|]+\|recipients=1\|audience=channel\|via=#beasiswa$/);
  while (!ugm.lines.slice(from).some((l) => l.startsWith('*|POPUP|'))) await ugm.waitLines(ugm.lines.length + 1);
  t.match(ugm.lines.slice(from).find((l) => l.startsWith('*|POPUP|')), /^\*\|POPUP\|id=\d+\|from=admin\|institution=\|subject=LPDP\|preview=Baris satu\|sentAt=[^|]+\|attachments=0\|via=#beasiswa$/);
});


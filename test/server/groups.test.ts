/** Groups of institutions (issue #4) against a real server over real sockets. */
import t from 'tap';
import { argsToGroup, argsToGroupMember, argsToMessage, argsToPopup } from '../../src/protocol/index.js';
import type { SiarClient } from '../../src/client/connection.js';
import { collectPushes, startServer, type TestServer, ownPassword } from '../helpers/siar.js';

async function settle(...clients: SiarClient[]): Promise<void> {
  await Promise.all(clients.map((c) => c.request('PING')));
}

async function delivered(s: TestServer, id: string | number, expected: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const m = await s.server.store.getMessage(Number(id));
    if (m && m.recipients.filter((r) => r.deliveredAt).length >= expected) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`message ${id} was not delivered to ${expected} recipients`);
}

t.test('the administrator keeps groups; members list them and see who is in them', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  for (const u of ['unhas', 'unsrat', 'pnl']) await s.member(u, `Institution ${u}`);
  const unhas = await s.memberClient('unhas');

  const created = await admin.request('GROUP_CREATE', { name: '@PTN-Sulawesi', description: 'Universities in Sulawesi', members: 'unhas,unsrat' });
  t.match(argsToGroup(created.args), { name: 'ptn-sulawesi', members: 2, description: 'Universities in Sulawesi' });
  await t.rejects(admin.request('GROUP_CREATE', { name: 'ptn-sulawesi' }), { code: 'DUPLICATE_NAME' });
  await t.rejects(admin.request('GROUP_CREATE', { name: 'g2', members: 'unhas,ghost' }), { code: 'NOT_FOUND', message: /ghost/ });
  t.equal(await s.server.store.getGroup('g2'), null, 'a refused create leaves nothing behind');
  await t.rejects(unhas.request('GROUP_CREATE', { name: 'mine' }), { code: 'FORBIDDEN' });

  t.match((await unhas.request('GROUPS')).items.map(argsToGroup), [{ name: 'ptn-sulawesi', members: 2, isMember: true }]);
  const one = await unhas.request('GROUP', { name: 'ptn-sulawesi' });
  t.same(one.items.map(argsToGroupMember).map((m) => [m.username, m.institution, m.status]), [
    ['unhas', 'Institution unhas', 'active'], ['unsrat', 'Institution unsrat', 'active'],
  ]);
  await t.rejects(unhas.request('GROUP', { name: 'nope' }), { code: 'UNKNOWN_GROUP' });

  t.same((await admin.request('GROUP_ADD', { name: 'ptn-sulawesi', username: 'pnl,unhas' })).args.get('added'), '1', 'unhas was in already');
  t.same((await admin.request('GROUP_REMOVE', { name: 'ptn-sulawesi', username: 'pnl' })).args.get('removed'), '1');
  t.equal((await admin.request('GROUP_UPDATE', { name: 'ptn-sulawesi', description: 'PTN di Sulawesi' })).args.get('description'), 'PTN di Sulawesi');
  await admin.request('GROUP_CREATE', { name: 'tmp' });
  t.equal((await admin.request('GROUP_DELETE', { name: 'tmp' })).args.get('deleted'), '1');
  await t.rejects(admin.request('GROUP_DELETE', { name: 'tmp' }), { code: 'UNKNOWN_GROUP' });

  const audit = (await s.server.store.listAudit({}, { limit: 50 })).filter((e) => e.kind.startsWith('group_')).reverse();
  t.same(audit.map((e) => [e.kind, e.subject]), [
    ['group_created', 'ptn-sulawesi'], ['group_members_added', 'ptn-sulawesi'], ['group_members_removed', 'ptn-sulawesi'],
    ['group_updated', 'ptn-sulawesi'], ['group_created', 'tmp'], ['group_deleted', 'tmp'],
  ], 'every administrator action is audited');
});

t.test('overlapping groups and direct names: each institution gets the message once, recorded with how it came', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  // a: in both groups; b: only g1; c: only g2 and also named directly; d: in no group; e: offline, in g2; sender in g1.
  for (const u of ['sender', 'aa', 'bb', 'cc', 'dd', 'ee']) await s.member(u);
  await admin.request('GROUP_CREATE', { name: 'g1', members: 'sender,aa,bb' });
  await admin.request('GROUP_CREATE', { name: 'g2', members: 'aa,cc,ee' });
  const sender = await s.memberClient('sender');
  const online = { aa: await s.memberClient('aa'), bb: await s.memberClient('bb'), cc: await s.memberClient('cc'), dd: await s.memberClient('dd') };
  const popups = Object.fromEntries(Object.entries(online).map(([k, c]) => [k, collectPushes(c, 'POPUP')]));
  const own = collectPushes(sender, 'POPUP');

  const sent = await sender.request('SEND', { to: '@g1,@g2,cc', subject: 'Rapat koordinasi' });
  t.same([sent.args.get('audience'), sent.args.get('recipients'), sent.args.get('via')], ['list', '4', '@g1,@g2']);
  const id = Number(sent.args.get('id'));
  await delivered(s, id, 3);
  await settle(sender, ...Object.values(online));

  t.same(Object.fromEntries(Object.entries(popups).map(([k, list]) => [k, list.map((a) => argsToPopup(a).via)])), {
    aa: ['@g1,@g2'], bb: ['@g1'], cc: [''], dd: [],
  }, 'once each, saying through which groups; cc was named directly');
  t.same(own, [], 'the sender is not its own recipient');

  const out = (await sender.request('OUTBOX')).items.map(argsToMessage)[0]!;
  t.same(out.recipients!.map((r) => [r.username, r.via ?? null]), [['aa', '@g1,@g2'], ['bb', '@g1'], ['cc', null], ['ee', '@g2']]);
  t.equal(out.via, '@g1,@g2');
  t.match((await online.aa.request('INBOX')).items.map(argsToMessage), [{ id, via: '@g1,@g2' }]);
  t.notOk((await online.cc.request('INBOX')).items.map(argsToMessage)[0]!.via, 'no via for a direct recipient');

  // Recorded at send time: later membership changes do not move it.
  await admin.request('GROUP_REMOVE', { name: 'g2', username: 'ee' });
  await admin.request('GROUP_ADD', { name: 'g2', username: 'dd' });
  t.same((await s.server.store.getMessage(id))!.recipients.map((r) => r.username), ['aa', 'bb', 'cc', 'ee']);

  // The offline member gets it at login, with its via.
  const ee = await s.client();
  const eePopups = collectPushes(ee, 'POPUP');
  await ee.login('ee', ownPassword('ee'));
  await delivered(s, id, 4);
  await settle(ee);
  t.same(eePopups.map((a) => [Number(a.get('id')), a.get('via')]), [[id, '@g2']]);
});

t.test('group addressing errors and edge cases', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  for (const u of ['aa', 'bb', 'cc']) await s.member(u);
  await admin.request('GROUP_CREATE', { name: 'solo', members: 'aa' });
  await admin.request('GROUP_CREATE', { name: 'kosong' });
  await admin.request('GROUP_CREATE', { name: 'pair', members: 'bb,cc' });
  const aa = await s.memberClient('aa');

  await t.rejects(aa.request('SEND', { to: '@nope,bb', subject: 'x' }), { code: 'UNKNOWN_GROUP', message: /@nope/ });
  await t.rejects(aa.request('SEND', { to: '@Bad Name', subject: 'x' }), { code: 'UNKNOWN_GROUP' });
  await t.rejects(aa.request('SEND', { to: '@solo', subject: 'x' }), { code: 'NO_RECIPIENTS' }, 'only the sender is in it');
  await t.rejects(aa.request('SEND', { to: '@kosong', subject: 'x' }), { code: 'NO_RECIPIENTS' });
  await t.rejects(aa.request('SEND', { to: '@pair,ghost', subject: 'x' }), { code: 'UNKNOWN_RECIPIENT' });
  t.same(await s.server.store.outbox((await s.server.store.getUserByUsername('aa'))!.id, { limit: 10 }), [], 'nothing was sent');

  // A suspended member of a group is skipped, not an error.
  await admin.request('SUSPEND', { username: 'cc' });
  const r = await aa.request('SEND', { to: '@pair', subject: 'x' });
  t.equal(r.args.get('recipients'), '1');
  // One group alone, one member: still a list, through the group.
  const m = (await s.server.store.getMessage(Number(r.args.get('id'))))!;
  t.same([m.audience, m.recipients.map((x) => [x.username, x.via])], ['list', [['bb', '@pair']]]);

  // Deleting the group keeps the message as it was sent.
  await admin.request('GROUP_DELETE', { name: 'pair' });
  const after = (await s.server.store.getMessage(m.id))!;
  t.same([after.via, after.recipients.map((x) => [x.username, x.via])], ['@pair', [['bb', '@pair']]]);
});

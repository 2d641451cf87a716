/**
 * Issue #4 from the command line, as a new user runs it: the real `siar` executable against a real
 * `siar server`. The administrator creates a channel and a group; three institutions subscribe; a
 * message to the channel and one to the group reach exactly the right institutions, online
 * (popups on `siar listen`) and offline (inbox, and popups at the next login).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { tempDir } from '../helpers/siar.js';
import { Listener, jsonLines, ok, setOwnPassword, siar, startSiarServer } from './channels-helpers.js';

// Each step is a new `siar` process (about thirty of them, plus servers and listeners): on a busy
// machine that is more than the default per-file budget.
t.setTimeout(300_000);

t.test('a channel and a group reach exactly the right institutions, online and offline', async (t) => {
  const data = tempDir(t);
  const server = await startSiarServer(t, data);
  const env = { SIAR_SERVER: server };
  const admin = { ...env, SIAR_USER: 'admin', SIAR_PASSWORD: readFileSync(path.join(data, 'admin-password'), 'utf8').trim() };

  // Four institutions register and are approved: two in Sulawesi, one in Aceh, one in Java.
  const institutions = [
    ['unhas', 'Universitas Hasanuddin'], ['unsrat', 'Universitas Sam Ratulangi'],
    ['pnl', 'Politeknik Negeri Lhokseumawe'], ['ugm', 'Universitas Gadjah Mada'],
  ] as const;
  // One at a time, so the request ids are 1-4 in this order.
  for (const [username, institution] of institutions) {
    await ok(t, ['register', '--institution', institution, '--contact', 'Humas', '--email', `humas@${username}.ac.id`, '--username', username], env);
  }
  await ok(t, ['admin', 'approve', '1', '2', '3', '4'], admin);
  const as: Record<string, Record<string, string>> = {};
  for (const [username] of institutions) as[username] = { ...env, SIAR_USER: username, SIAR_PASSWORD: await setOwnPassword(server, data, username) };

  // The administrator creates a channel and a group.
  const [channelCreated, groupCreated] = await Promise.all([
    ok(t, ['admin', 'channel', 'create', 'beasiswa', '--description', 'Scholarship calls'], admin),
    ok(t, ['admin', 'group', 'create', 'ptn-sulawesi', '--members', 'unhas,unsrat', '--description', 'Public universities of Sulawesi', '--json'], admin),
  ]);
  t.match(channelCreated, /^created #beasiswa \(open, subscribers publish\)\n$/);
  t.match(jsonLines(groupCreated), [{ name: 'ptn-sulawesi', members: 2 }]);

  // Three institutions subscribe; unsrat does not.
  t.match(jsonLines(await ok(t, ['channels', '--json'], as.ugm!)), [{ name: 'beasiswa', subscribed: false, canSubscribe: true }]);
  const subscribed = await Promise.all(['unhas', 'pnl', 'ugm'].map((u) => ok(t, ['subscribe', 'beasiswa'], as[u]!)));
  t.same(subscribed, ['subscribed to #beasiswa\n', 'subscribed to #beasiswa\n', 'subscribed to #beasiswa\n']);
  const [shown, dirJson, dirText] = await Promise.all([
    ok(t, ['admin', 'channel', 'show', 'beasiswa', '--json'], admin),
    ok(t, ['directory', '--json'], as.unsrat!),
    ok(t, ['directory'], as.unsrat!),
  ]);
  const roster = jsonLines(shown)[0]!;
  t.match(roster, { name: 'beasiswa', subscribers: 3 });
  t.same((roster.roster as Array<{ username: string; subscribed: boolean }>).map((r) => [r.username, r.subscribed]), [['pnl', true], ['ugm', true], ['unhas', true]]);

  // The directory shows members, the channel and the group.
  t.same(jsonLines(dirJson).map((e) => [e.kind, e.username ?? e.name]), [
    ['member', 'pnl'], ['member', 'ugm'], ['member', 'unhas'], ['member', 'unsrat'], ['channel', 'beasiswa'], ['group', 'ptn-sulawesi'],
  ]);
  t.match(dirText, /--channel beasiswa +Scholarship calls\n--to @ptn-sulawesi +Public universities of Sulawesi\n/);

  // unhas and pnl are online; unsrat and ugm are not (and do not log in until they are checked:
  // any login, even a one-shot command, is handed the popups missed meanwhile).
  const [unhas, pnl] = await Promise.all([Listener.start(t, as.unhas!), Listener.start(t, as.pnl!)]);

  // pnl publishes to the channel: unhas (online) and ugm (offline) — not unsrat, not pnl itself.
  const channelSend = jsonLines(await ok(t, ['send', '--channel', 'beasiswa', '--subject', 'Beasiswa LPDP 2025', '--body', 'Pendaftaran dibuka', '--json'], as.pnl!))[0]!;
  t.match(channelSend, { audience: 'channel', recipients: '2', via: '#beasiswa' });
  // pnl addresses the group and unhas by name: unhas once, unsrat (offline) — not pnl, not ugm.
  const groupSend = jsonLines(await ok(t, ['send', '--to', '@ptn-sulawesi,unhas', '--subject', 'Rapat koordinasi', '--json'], as.pnl!))[0]!;
  t.match(groupSend, { audience: 'list', recipients: '2', via: '@ptn-sulawesi' });

  const got = await unhas.waitFor(2);
  t.match(got, [
    { id: Number(channelSend.id), from: 'pnl', institution: 'Politeknik Negeri Lhokseumawe', subject: 'Beasiswa LPDP 2025', via: '#beasiswa' },
    { id: Number(groupSend.id), from: 'pnl', subject: 'Rapat koordinasi', via: '' },
  ], 'unhas: the channel message through #beasiswa; the group message once (it was also named directly)');

  const pnlOutbox = jsonLines(await ok(t, ['outbox', '--json'], as.pnl!));
  t.same((pnlOutbox[1]!.recipients as Array<{ username: string; via: string; deliveredAt: string | null }>).map((r) => [r.username, r.via, !!r.deliveredAt]),
    [['ugm', '#beasiswa', false], ['unhas', '#beasiswa', true]], 'the publisher sees who got it: ugm is still offline');
  await new Promise((r) => setTimeout(r, 300));
  t.same(pnl.popups, [], 'pnl got neither its own channel message nor the group message');
  t.equal(unhas.popups.length, 2, 'unhas got each message once');

  // Offline institutions: the inbox holds exactly their message, and it pops up at the next login.
  const ugmInbox = jsonLines(await ok(t, ['inbox', '--json'], as.ugm!));
  t.match(ugmInbox, [{ id: Number(channelSend.id), via: '#beasiswa' }]);
  t.equal(ugmInbox.length, 1, 'ugm: the channel message only');
  const unsrat = await Listener.start(t, as.unsrat!);
  t.match(await unsrat.waitFor(1), [{ id: Number(groupSend.id), from: 'pnl', via: '@ptn-sulawesi' }], 'unsrat: the group message, at its next login');
  const [unsratInbox, unsratInboxJson] = await Promise.all([ok(t, ['inbox'], as.unsrat!), ok(t, ['inbox', '--json'], as.unsrat!)]);
  t.match(unsratInbox, /pnl via @ptn-sulawesi/);
  t.equal(jsonLines(unsratInboxJson).length, 1, 'unsrat: the group message only');
  t.same((pnlOutbox[0]!.recipients as Array<{ username: string; via?: string }>).map((r) => [r.username, r.via ?? null]), [['unhas', null], ['unsrat', '@ptn-sulawesi']]);

  // unsubscribe; archive refuses new messages and keeps the history.
  t.equal(await ok(t, ['unsubscribe', 'beasiswa'], as.ugm!), 'unsubscribed from #beasiswa\n');
  await ok(t, ['admin', 'channel', 'archive', 'beasiswa'], admin);
  const refused = await siar(['send', '--channel', 'beasiswa', '--subject', 'late'], as.pnl!);
  t.not(refused.code, 0);
  t.match(refused.stderr, /\(CHANNEL_ARCHIVED\)\n$/);
  t.match(jsonLines(await ok(t, ['channel', 'beasiswa', '--history', '--json'], as.unhas!)), [{ id: Number(channelSend.id), subject: 'Beasiswa LPDP 2025' }]);
});

/**
 * The core flows on a cluster (issue 19): three real node processes on one PostgreSQL and one
 * Redis; the sender on node 1, the recipients on nodes 2 and 3. Registration on node 2 waiting for
 * the decision made on node 1, the password mailed over real SMTP, the member's own password;
 * direct, list, broadcast, channel and group popups across nodes, each once; a popup waiting for an
 * offline member at its next login on another node; read and acknowledgement states seen by the
 * sender on its node; an attachment uploaded through node 1 and downloaded through node 3.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Decision } from '../../src/client/index.js';
import { jsonLines, siar } from '../helpers/cli.js';
import { ownPassword, parseEml, passwordFromText, tempDir, until } from '../helpers/siar.js';
import { popupsOf, testCluster } from './helpers.js';

t.setTimeout(240_000);

t.test('registration, popups of every kind, offline delivery, read and ack, attachments: across three nodes', async (t) => {
  const c = await testCluster(t);
  if (!c) return;
  const admin = await c.admin(0);

  // Registration on node 2, decided on node 1: the waiting registrant hears it; the password comes by mail.
  const anon = await c.client(1);
  const decision = new Promise<Decision>((resolve) => anon.once('decision', resolve));
  const reg = await anon.register({ institution: 'Universitas Gadjah Mada', contact: 'Sari', email: 'sari@ugm.ac.id', username: 'ugm', wait: true });
  t.ok(reg.waiting, 'the registrant waits on node 2');
  const pending = await admin.admin.pending();
  t.ok(pending.some((p) => p.id === reg.id), 'node 1 lists the request made on node 2');
  await admin.admin.approve(reg.id);
  const decided = await decision;
  t.match(decided, { id: reg.id, status: 'approved', username: 'ugm' }, 'node 2 hears the decision made on node 1');
  await c.receiver.waitFor(1);
  const mail = c.receiver.received.find((m) => m.to.includes('sari@ugm.ac.id'));
  t.ok(mail, 'the credentials went out over SMTP');
  const mailed = passwordFromText(parseEml(mail!.raw).text, 'ugm');
  const first = await c.client(2);
  await first.login('ugm', mailed, { popups: false });
  await first.changePassword(mailed, ownPassword('ugm'));
  await first.close();
  // The others the same way (the helper), each registering on a node of its own.
  await c.member('unhas', 0);
  await c.member('unsrat', 2);
  await c.member('itb', 1);

  const unhas = await c.memberClient('unhas', 0);
  const ugm = await c.memberClient('ugm', 1);
  const unsrat = await c.memberClient('unsrat', 2);
  const onUgm = popupsOf(ugm);
  const onUnsrat = popupsOf(unsrat);
  const via = new Map<number, string>();
  for (const cl of [ugm, unsrat]) cl.on('popup', (p) => { if (p.via) via.set(p.id, p.via); });

  const direct = await unhas.send({ to: ['ugm'], subject: 'direct' });
  const list = await unhas.send({ to: ['ugm', 'unsrat'], subject: 'list' });
  const broadcast = await unhas.send({ all: true, subject: 'broadcast' });
  await admin.admin.createChannel('beasiswa', { description: 'Scholarships', access: 'open', publish: 'subscribers' });
  await ugm.subscribe('beasiswa');
  await unsrat.subscribe('beasiswa');
  await unhas.subscribe('beasiswa');
  const channel = await unhas.send({ channel: 'beasiswa', subject: 'channel' });
  await admin.admin.createGroup('ptn', { members: ['ugm', 'unsrat'] });
  const group = await unhas.send({ to: ['@ptn'], subject: 'group' });
  const toBoth = [list.id, broadcast.id, channel.id, group.id];
  await until('popups on node 2', () => onUgm.length >= 5, 30_000);
  await until('popups on node 3', () => onUnsrat.length >= 4, 30_000);
  await new Promise((r) => setTimeout(r, 1500)); // a catch-up tick later: nothing twice
  t.same(onUgm, [direct.id, ...toBoth], 'node 2: direct, list, broadcast, channel, group, each once, in order');
  t.same(onUnsrat, toBoth, 'node 3: list, broadcast, channel, group, each once');
  t.equal(via.get(channel.id), '#beasiswa', 'told which channel');
  t.equal(via.get(group.id), '@ptn', 'told which group');

  // Offline: itb is away when it is sent, and gets it at its next login, on another node.
  const away = await unhas.send({ to: ['itb'], subject: 'while you were away' });
  const itb = await c.client(2);
  const onItb = popupsOf(itb);
  await itb.login('itb', ownPassword('itb'));
  await until('the popup at login', () => onItb.includes(away.id), 30_000);
  t.ok(onItb.includes(broadcast.id), 'the broadcast too');

  // Read and acknowledged on node 2; the sender on node 1 sees both.
  const alert = await unhas.send({ to: ['ugm'], subject: 'please acknowledge', ack: true });
  await until('the alert popup', () => onUgm.includes(alert.id), 30_000);
  const acked = new Promise<number>((resolve) => unhas.once('ack', (a) => resolve(a.id)));
  await ugm.read(direct.id);
  await ugm.ack(alert.id);
  t.equal(await acked, alert.id, 'the sender on node 1 hears the acknowledgement made on node 2');
  const outbox = await unhas.outbox();
  const sentDirect = outbox.find((m) => m.id === direct.id)!;
  t.ok(sentDirect.recipients?.find((r) => r.username === 'ugm')?.readAt, 'read, as the sender sees it');
  const report = await unhas.report(alert.id);
  t.match(report, { recipients: 1, acknowledged: 1, notAcknowledged: 0 }, 'acknowledged, as the sender sees it');

  // An attachment uploaded through node 1 downloads through node 3, byte-identical.
  const bytes = randomBytes(2 * 1024 * 1024 + 777);
  const src = path.join(tempDir(t), 'laporan.bin');
  writeFileSync(src, bytes);
  const asUnhas = { SIAR_SERVER: c.nodes[0]!.address, SIAR_USER: 'unhas', SIAR_PASSWORD: ownPassword('unhas') };
  const sent = await siar(['send', '--to', 'unsrat', '--subject', 'Laporan', '--attach', src, '--json'], asUnhas);
  t.equal(sent.code, 0, sent.stderr);
  const { id } = JSON.parse(sent.stdout) as { id: number };
  await until('the attachment popup', () => onUnsrat.includes(id), 30_000);
  const to = path.join(tempDir(t), 'unduhan');
  const dl = await siar(['download', String(id), '--to', to, '--json'], { SIAR_SERVER: c.nodes[2]!.address, SIAR_USER: 'unsrat', SIAR_PASSWORD: ownPassword('unsrat') });
  t.equal(dl.code, 0, dl.stderr);
  const [got] = jsonLines(dl.stdout) as Array<{ path: string; sha256: string }>;
  t.equal(got?.sha256, createHash('sha256').update(bytes).digest('hex'), 'node 3 serves what node 1 took');
  t.ok(readFileSync(got!.path).equals(bytes), 'byte-identical');
});

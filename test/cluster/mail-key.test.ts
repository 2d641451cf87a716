/**
 * The mail key on several nodes (issue 19): two real node processes on one PostgreSQL and one
 * Redis, mailing through a real SMTP receiver. With one key file for both (--mail-key-file, as
 * `npm run cluster` gives them), a registration approved on node 1 is mailed whichever node holds
 * the mail queue's lease: first the one that took it at start, then the other after a handover.
 * With a key file each (a misconfigured cluster), no mail is lost: each key's mail goes out from
 * the node that has the key, and a node that meets mail sealed with the other key leaves it queued
 * (not failed) and logs one warning naming the problem.
 */
import { existsSync, readFileSync } from 'node:fs';
import t from 'tap';
import type { SiarClient } from '../../src/client/index.js';
import { parseEml, passwordFromText, until } from '../helpers/siar.js';
import { testCluster, type TestCluster } from './helpers.js';

t.setTimeout(240_000);

interface LogLine { msg?: string; lease?: string; to?: string; mailId?: number; level?: number; sealedWith?: string; mailKey?: string }

function logOf(c: TestCluster, i: number): LogLine[] {
  const file = c.nodes[i]!.logFile;
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
}

/** The mail-queue leases node i has taken (since its data directory's log began), by name. */
const mailLeasesTaken = (c: TestCluster, i: number): string[] =>
  logOf(c, i).filter((l) => l.msg?.startsWith('holds the lease of a once-per-cluster job') && l.lease?.startsWith('mail-queue:')).map((l) => l.lease!);

/** The nodes whose log says they sent mail to `to`. */
const sentBy = (c: TestCluster, to: string): number[] =>
  c.nodes.map((_, i) => i).filter((i) => logOf(c, i).some((l) => l.msg === 'mail sent' && l.to === to));

/** Registers `username` on node `on` and has it approved by `admin`; resolves with the mailed password. */
async function approvedAndMailed(c: TestCluster, admin: SiarClient, username: string, on: number): Promise<string> {
  const email = `humas@${username}.ac.id`;
  const anon = await c.client(on);
  const reg = await anon.register({ institution: `Universitas ${username}`, contact: 'Humas', email, username });
  await anon.close();
  await admin.admin.approve(reg.id);
  await until(`the credentials mail to ${email}`, () => c.receiver.received.some((m) => m.to.includes(email)), 60_000);
  // The sender logs it once its SMTP server took it and the store recorded it: wait for that line too.
  await until(`a node to log the mail to ${email} sent`, () => sentBy(c, email).length > 0, 30_000);
  return passwordFromText(parseEml(c.receiver.received.find((m) => m.to.includes(email))!.raw).text, username);
}

t.test('one key file for both nodes: an approval on node 1 is mailed whichever node holds the mail lease', async (t) => {
  const c = await testCluster(t, ['--catch-up-interval', '1s'], { nodes: 2 });
  if (!c) return;
  t.equal(c.mailKeyFile(0), c.mailKeyFile(1), 'both nodes name the same key file');
  const holderOf = (): number | undefined => [0, 1].find((i) => mailLeasesTaken(c, i).length > 0);
  await until('a node holds the mail lease', () => holderOf() !== undefined, 30_000);
  const first = holderOf()!;
  t.strictSame(mailLeasesTaken(c, 1 - first), [], 'one mail lease for the cluster: the other node holds none');
  t.equal(new Set([...mailLeasesTaken(c, 0), ...mailLeasesTaken(c, 1)]).size, 1, 'one lease name: one key');

  const admin = await c.admin(0);
  const password = await approvedAndMailed(c, admin, 'unhas', 0);
  t.strictSame(sentBy(c, 'humas@unhas.ac.id'), [first], `sent by node ${first + 1}, the holder`);
  const member = await c.client(1);
  t.equal((await member.login('unhas', password, { popups: false })).username, 'unhas', 'the mailed password logs in');
  await member.close();

  // Hand the lease over: the holder stops (giving it back), the other takes it; the first comes back.
  const nodeFirst = c.nodes[first]!;
  nodeFirst.child.kill('SIGTERM');
  await nodeFirst.exited;
  await until('the other node takes the mail lease', () => mailLeasesTaken(c, 1 - first).length > 0, 30_000);
  await c.restartNode(first);
  const second = 1 - first;
  // The admin's connection was on node 1: if node 1 restarted, log in again there.
  const admin2 = first === 0 ? await c.admin(0) : admin;
  await approvedAndMailed(c, admin2, 'ugm', 0);
  t.strictSame(sentBy(c, 'humas@ugm.ac.id'), [second], `after the handover, sent by node ${second + 1}, the new holder`);
  t.notOk(logOf(c, 0).concat(logOf(c, 1)).some((l) => /mail key/.test(l.msg ?? '') && (l.level ?? 0) >= 40), 'no node warned about the mail key');
});

t.test('a key file each: no mail is lost, and a node that meets the other key\'s mail leaves it and warns once', async (t) => {
  const c = await testCluster(t, ['--catch-up-interval', '1s'], { nodes: 2, mailKeys: 'per-node' });
  if (!c) return;
  t.not(c.mailKeyFile(0), c.mailKeyFile(1), 'two key files');
  await until('each node holds the mail lease of its own key', () => mailLeasesTaken(c, 0).length > 0 && mailLeasesTaken(c, 1).length > 0, 30_000);
  t.not(mailLeasesTaken(c, 0)[0], mailLeasesTaken(c, 1)[0], 'two keys, two mail queues');

  // Mail each node queued goes out from that node, the one with its key.
  const on1 = await c.admin(0);
  const on2 = await c.admin(1);
  await approvedAndMailed(c, on1, 'unhas', 0);
  await approvedAndMailed(c, on2, 'itb', 1);
  t.strictSame(sentBy(c, 'humas@unhas.ac.id'), [0], 'node 1 sent the mail it queued');
  t.strictSame(sentBy(c, 'humas@itb.ac.id'), [1], 'node 2 sent the mail it queued');

  // A mail node 1 queued that cannot go out yet (the receiver refuses it for now), made due on node 2.
  const email = 'humas@ugm.ac.id';
  c.receiver.refused.add(email);
  const anon = await c.client(0);
  const reg = await anon.register({ institution: 'Universitas Gadjah Mada', contact: 'Humas', email, username: 'ugm' });
  await on1.admin.approve(reg.id);
  const queued = async () => (await on1.admin.mailQueue({ status: 'all' })).find((m) => m.to === email)!;
  await until('node 1 tried it', async () => ((await queued())?.attempts ?? 0) > 0, 30_000);
  const warnings = (): LogLine[] => logOf(c, 1).filter((l) => (l.level ?? 0) === 40 && l.sealedWith !== undefined);
  // Node 2 runs a pass at once after MAILRETRY; should node 1's own poll fail it again first, ask again.
  await until('node 2 meets the mail of node 1\'s key', async () => {
    await on2.admin.retryMail((await queued()).id);
    await new Promise((r) => setTimeout(r, 200));
    return warnings().length > 0;
  }, 60_000);
  const mail = await queued();
  t.equal(mail.sentAt, null, 'not sent');
  t.notMatch(mail.lastError ?? '', /unseal/, 'not marked failed by node 2: its error is still node 1\'s SMTP refusal');
  t.match(mail.lastError, /450|busy|rejected/i);
  await on2.admin.retryMail(mail.id);
  await on2.admin.retryMail(mail.id);
  const [warning] = warnings();
  t.match(warning, {
    mailId: mail.id, sealedWith: mailLeasesTaken(c, 0)[0]!.slice('mail-queue:'.length), mailKey: mailLeasesTaken(c, 1)[0]!.slice('mail-queue:'.length),
    msg: /^queued mail \d+ was sealed with the mail key [0-9a-f]{16}, but this node's key is [0-9a-f]{16}: the nodes of this cluster do not share one mail key\. .*--mail-key-file$/,
  }, 'the warning names both keys and what to do');

  // Once the receiver takes it, the node with the key sends it: nothing was lost.
  c.receiver.refused.delete(email);
  await on1.admin.retryMail(mail.id);
  await until('the mail arrives', () => c.receiver.received.some((m) => m.to.includes(email)), 60_000);
  await until('its sender logs it', () => sentBy(c, email).length > 0, 30_000);
  t.strictSame(sentBy(c, email), [0], 'sent by node 1, whose key sealed it');
  const password = passwordFromText(parseEml(c.receiver.received.find((m) => m.to.includes(email))!.raw).text, 'ugm');
  const member = await c.client(1);
  t.equal((await member.login('ugm', password, { popups: false })).username, 'ugm', 'its password logs in on node 2');
  await member.close();
  t.equal(warnings().length, 1, 'node 2 warned once, however often it met that mail');
});

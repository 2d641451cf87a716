/**
 * One message, one description of its audience (issue 22 items 5 and 6), as members see it with
 * the real `siar` against a real server: the inbox, READ and the outbox agree, people read "all
 * members" for a broadcast, and a group is named only when it reached someone.
 */
import t, { type Test } from 'tap';
import { startServer } from '../helpers/siar.js';
import { jsonLines, siar } from '../helpers/cli.js';

async function members(t: Test, names: string[]) {
  const s = await startServer(t);
  const env: Record<string, Record<string, string>> = {};
  for (const u of names) {
    const { password } = await s.member(u);
    env[u] = { SIAR_SERVER: `127.0.0.1:${s.port}`, SIAR_USER: u, SIAR_PASSWORD: password };
  }
  return { s, env };
}

async function ok(t: Test, args: string[], env: Record<string, string>) {
  const r = await siar(args, env);
  t.equal(r.code, 0, `siar ${args.join(' ')}: ${r.stderr}`);
  return r;
}

t.test('a broadcast reads the same in the inbox, READ and the outbox: audience all, to *, "all members" for people', async (t) => {
  const { env } = await members(t, ['unhas', 'ugm', 'itb']);
  const id = Number((await ok(t, ['send', '--all', '--subject', 'Pengumuman', '--body', 'untuk semua'], env.unhas!)).stdout.trim());

  const [inboxRow] = jsonLines((await ok(t, ['inbox', '--json'], env.ugm!)).stdout);
  t.match(inboxRow, { id, audience: 'all', to: ['*'] }, 'the inbox row tells the broadcast as it is');
  const read = JSON.parse((await ok(t, ['read', String(id), '--json'], env.ugm!)).stdout) as Record<string, unknown>;
  t.match(read, { id, audience: 'all', to: ['*'] }, 'READ says the same');
  const [outRow] = jsonLines((await ok(t, ['outbox', '--json'], env.unhas!)).stdout);
  t.match(outRow, { id, audience: 'all', to: ['*'] }, 'and so does the sender\'s outbox');
  t.equal((outRow!.recipients as unknown[]).length, 2, 'with every recipient\'s state beside it');

  const plain = (await ok(t, ['read', String(id)], env.itb!)).stdout;
  t.match(plain, /^To: {6}all members$/m, 'a person reads "all members"');
  t.notMatch(plain, /To: +\*/, 'not a bare asterisk');
  t.match((await ok(t, ['outbox'], env.unhas!)).stdout, new RegExp(`^${id}\\s+\\S+ \\S+\\s+all members\\s`, 'm'), 'the outbox table too');
});

t.test('a direct message, a list and a channel message: the inbox row carries the audience READ shows', async (t) => {
  const { s, env } = await members(t, ['unhas', 'ugm', 'itb']);
  const admin = await s.adminClient();
  await admin.request('CHANNEL_CREATE', { name: 'beasiswa' });
  await ok(t, ['subscribe', 'beasiswa'], env.ugm!);
  await ok(t, ['subscribe', 'beasiswa'], env.unhas!); // publishers subscribe first
  await ok(t, ['send', '--to', 'ugm', '--subject', 'satu'], env.unhas!);
  await ok(t, ['send', '--to', 'ugm,itb', '--subject', 'dua'], env.unhas!);
  await ok(t, ['send', '--channel', 'beasiswa', '--subject', 'tiga'], env.unhas!);

  const rows = jsonLines((await ok(t, ['inbox', '--json'], env.ugm!)).stdout);
  t.equal(rows.length, 3);
  for (const row of rows) {
    const read = JSON.parse((await ok(t, ['read', String(row.id), '--json'], env.ugm!)).stdout) as Record<string, unknown>;
    t.same([row.audience, row.to, row.via], [read.audience, read.to, read.via], `message "${String(row.subject)}": inbox and READ agree`);
  }
  t.same(rows.map((r) => [r.subject, r.audience, r.to]), [
    ['tiga', 'channel', ['#beasiswa']],
    ['dua', 'list', ['itb', 'ugm']],
    ['satu', 'direct', ['ugm']],
  ]);
});

t.test('--to @group,ugm where the group adds no one: sent to ugm directly, no via anywhere; a group that reaches someone is named for them only', async (t) => {
  const { s, env } = await members(t, ['unhas', 'ugm', 'itb']);
  const admin = await s.adminClient();
  await admin.request('GROUP_CREATE', { name: 'jawa', description: '' });
  await admin.request('GROUP_ADD', { name: 'jawa', username: 'ugm,unhas' }); // ugm, and the sender itself

  const sent = JSON.parse((await ok(t, ['send', '--to', '@jawa,ugm', '--subject', 'Rapat', '--json'], env.unhas!)).stdout) as Record<string, string>;
  t.match(sent, { audience: 'direct', recipients: '1' }, 'what reached ugm is the direct addressing');
  t.notOk(sent.via, 'the group brought nobody, so SEND names no via');
  const [out] = jsonLines((await ok(t, ['outbox', '--json'], env.unhas!)).stdout);
  t.notOk(out!.via, 'the outbox does not say it went via @jawa');
  t.same((out!.recipients as Array<Record<string, unknown>>).map((r) => [r.username, r.via]), [['ugm', undefined]]);
  t.notMatch((await ok(t, ['outbox'], env.unhas!)).stdout, /@jawa/, 'nor does the outbox table');
  const [got] = jsonLines((await ok(t, ['inbox', '--json'], env.ugm!)).stdout);
  t.match(got, { audience: 'direct', to: ['ugm'] });
  t.notOk(got!.via);

  // Now the group reaches itb too: it is named, for itb only.
  await admin.request('GROUP_ADD', { name: 'jawa', username: 'itb' });
  const second = JSON.parse((await ok(t, ['send', '--to', '@jawa,ugm', '--subject', 'Rapat 2', '--json'], env.unhas!)).stdout) as Record<string, string>;
  t.match(second, { audience: 'list', recipients: '2', via: '@jawa' });
  const [out2] = jsonLines((await ok(t, ['outbox', '--json', '--limit', '1'], env.unhas!)).stdout);
  t.same((out2!.recipients as Array<Record<string, unknown>>).map((r) => [r.username, r.via]), [['itb', '@jawa'], ['ugm', undefined]]);
  t.match((await ok(t, ['outbox', '--limit', '1'], env.unhas!)).stdout, /ugm, @jawa/, 'the table names ugm directly and the group for the rest');
  const [itbRow] = jsonLines((await ok(t, ['inbox', '--json'], env.itb!)).stdout);
  t.match(itbRow, { audience: 'list', via: '@jawa', to: ['itb', 'ugm'] });
  const [ugmRow] = jsonLines((await ok(t, ['inbox', '--json', '--limit', '1'], env.ugm!)).stdout);
  t.notOk(ugmRow!.via, 'ugm was named directly: no via for it');
});

/**
 * The typed client (issue 18 item 7): one method per verb of the server's command table, the
 * server's pushes as typed events, RemoteError codes from the catalogue — against a real server —
 * and the verbs and push names spelled in src/client/calls.ts only: the CLI, `siar tui` and the
 * console call its methods.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { RemoteError } from '../../src/client/connection.js';
import { wireArgs } from '../../src/client/replies.js';
import { buildCommandTable } from '../../src/server/commands/index.js';
import { attachmentCommands } from '../../src/server/commands/attachments.js';
import { startServer } from '../helpers/siar.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    return statSync(path.join(ROOT, rel)).isDirectory() ? sources(rel) : rel.endsWith('.ts') ? [rel] : [];
  });
}

/** Every verb the server answers (the attachment verbs join the table in server.ts). */
const VERBS = [...buildCommandTable(attachmentCommands).keys()];
/** Every push the server sends, as its sources spell them. */
const PUSH_NAMES = [...new Set(['src/server', 'src/transfer'].flatMap(sources).flatMap((f) =>
  [...read(f).matchAll(/(?:push\w*\((?:[^,()]*,\s*)?|encodePush\()'([A-Z_]+)'/g)].map((m) => m[1]!)).concat('HELLO'))];
/** Where the wire is spoken: the typed calls, and the connection and session that carry them. */
const WIRE_FILES = new Set(['src/client/calls.ts', 'src/client/connection.ts', 'src/client/session.ts']);

t.test('calls.ts has a method for every verb and an event for every push', async (t) => {
  const calls = read('src/client/calls.ts');
  t.ok(VERBS.length >= 50, `${VERBS.length} verbs in the command table`);
  for (const verb of VERBS) t.match(calls, `'${verb}'`, `${verb} is called from calls.ts`);
  t.ok(PUSH_NAMES.length >= 15, `${PUSH_NAMES.length} pushes: ${PUSH_NAMES.join(' ')}`);
  for (const push of PUSH_NAMES) t.match(calls, new RegExp(`^\\s+${push}: \\['\\w+', argsTo\\w+\\]`, 'm'), `${push} is a typed event`);
});

t.test('no verb is spelled, and no request or raw push is handled, outside the typed client', async (t) => {
  const verb = VERBS.join('|');
  const files = sources('src/client').filter((f) => !WIRE_FILES.has(f));
  for (const f of files) {
    const text = read(f);
    t.notMatch(text, /\.request\(/, `${f} sends no raw request`);
    t.notMatch(text, /\.(on|once|off)\('push'/, `${f} handles no raw push`);
    t.notMatch(text, new RegExp(`\\(\\s*'(${verb})'|case '(${verb}|${PUSH_NAMES.join('|')})'`), `${f} spells no verb`);
  }
});

t.test('typed calls, replies and events against a real server', async (t) => {
  const s = await startServer(t);
  const admin = await s.adminClient();
  const anon = await s.client();
  const registrations: number[] = [];
  admin.on('registration', (r) => registrations.push(r.id));
  const decided = new Promise<{ id: number; status: string; username: string }>((resolve) => admin.once('decided', resolve));
  const decision = new Promise<{ status: string; username?: string }>((resolve) => anon.once('decision', resolve));

  const reg = await anon.register({ institution: 'Universitas Typed', contact: 'Tia', email: 'tia@typed.ac.id', username: 'typed', wait: true });
  t.match(reg, { status: 'pending', waiting: true });
  t.same((await admin.admin.pending()).map((r) => [r.id, r.username]), [[reg.id, 'typed']], 'PENDING rows as records');
  const approved = await admin.admin.approve(reg.id);
  t.match(approved, { id: reg.id, status: 'approved', username: 'typed', email: 'tia@typed.ac.id' });
  t.type(approved.mailId, 'number');
  t.match(await decision, { status: 'approved', username: 'typed' }, 'the registrant gets a typed decision');
  t.match(await decided, { id: reg.id, status: 'approved', username: 'typed' }, 'the administrator a typed decided');
  t.same(registrations, [reg.id], 'and the registration as it arrived');
  t.match(wireArgs(approved).toObject(), { id: String(reg.id), username: 'typed', mailId: String(approved.mailId) }, 'the reply as the server sent it');

  await s.member('ugm');
  const ugm = await s.memberClient('ugm');
  const unhas = await s.memberClient('unhas');
  const popup = new Promise<{ id: number; from: string; subject: string }>((resolve) => ugm.once('popup', resolve));
  const receipt = new Promise<{ id: number; by: string }>((resolve) => unhas.once('read', resolve));

  const sent = await unhas.send({ to: ['ugm'], subject: 'Rapat', body: 'Senin' });
  t.match(sent, { recipients: 1, audience: 'direct', state: 'sent', attachments: [] });
  t.match(await popup, { id: sent.id, from: 'unhas', subject: 'Rapat' }, 'a typed popup');
  const inbox = await ugm.inbox({ unread: true });
  t.match(inbox, { count: 1, unread: 1 });
  t.equal(inbox.messages[0]?.subject, 'Rapat');
  t.equal((await ugm.read(sent.id)).body, 'Senin');
  t.match(await receipt, { id: sent.id, by: 'ugm' }, 'a typed read receipt');
  t.match((await unhas.outbox())[0]?.recipients?.[0], { username: 'ugm' });
  t.ok((await unhas.directory('member')).some((e) => e.kind === 'member' && e.username === 'ugm'), 'the directory');
  t.match((await ugm.whoami()), { username: 'ugm', role: 'member', mustChangePassword: false });
  await ugm.deleteMessage(sent.id);
  t.equal((await ugm.inbox()).count, 0, 'deleted from the inbox');

  // Refusals carry a catalogue code; a code this client does not know reads as INTERNAL, kept as it came.
  await t.rejects(unhas.send({ to: ['ghost'], subject: 'x' }), { name: 'RemoteError', code: 'UNKNOWN_RECIPIENT' });
  await t.rejects(unhas.admin.members(), { code: 'FORBIDDEN' }, 'admin calls are the server\'s to refuse');
  const unknown = new RemoteError('SOMETHING_NEWER', 'A newer server said so.');
  t.same([unknown.code, unknown.wireCode], ['INTERNAL', 'SOMETHING_NEWER']);

  const members = await admin.admin.members({ q: 'ug' });
  t.same(members.map((m) => [m.username, m.online, m.status]), [['ugm', true, 'active']], 'MEMBERS rows typed');
  const online = await admin.admin.online();
  t.ok(online.users.some((u) => u.username === 'ugm' && u.addresses.length === u.connections), 'ONLINE rows typed');
  const stats = await admin.admin.stats({ minutes: 2 });
  t.ok(stats.messages >= 1 && stats.minutes.length >= 1, `STATS typed: ${stats.messages} message(s) over ${stats.minutes.length} minute(s)`);
});

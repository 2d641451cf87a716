/**
 * Authorisation matrix (issue 7 §3): every command the live server lists in HELP, run by every
 * role — anonymous, pending registrant, member, suspended member, administrator — and only the
 * allowed cells succeed. The table below says, per verb, who may run it and how to make a call
 * that succeeds when allowed; a verb in HELP that is missing from the table (or a table row HELP
 * no longer lists, or an access level that changed) fails the test, so new commands are covered.
 *
 * Allowed cells must answer OK (not merely "not FORBIDDEN"): the arguments are real. Refused
 * cells must answer the access error for that role — AUTH_REQUIRED without a token, BAD_TOKEN
 * (or ACCOUNT_SUSPENDED) with a suspended member's token, FORBIDDEN for the wrong role — and for
 * the commands that change something, the refused call is checked to have changed nothing.
 */
import t, { type Test } from 'tap';
import { RemoteError, SiarClient } from '../../src/client/connection.js';
import type { ArgInput } from '../../src/protocol/index.js';
import { startServer, type TestServer } from '../helpers/siar.js';
import { noise, rawUpload, sendDeclared } from '../transfer/helpers.js';
import { readyMember } from './helpers.js';

type Access = 'anyone' | 'user' | 'member' | 'admin';
type Role = 'anonymous' | 'registrant' | 'member' | 'suspended' | 'admin';
const ROLES: Role[] = ['anonymous', 'registrant', 'member', 'suspended', 'admin'];

/** One role's connection and token for a call. */
interface Actor {
  role: Role;
  client: SiarClient;
  token: string;
  username: string | null;
}

interface Fixture {
  t: Test;
  s: TestServer;
  admin: SiarClient;
  passwords: Map<string, string>;
  /** mm (the member role), pp (its peer), ss (suspended), loginee (logged in by anonymous LOGIN cells). */
  clients: Map<string, SiarClient>;
  seq: number;
  /** pp → mm, plain. */
  msgToMember: number;
  /** admin → pp, plain. */
  adminSent: number;
  /** pp → mm with an uploaded attachment; admin → pp with one. */
  memberDownload: { message: number; attachment: number };
  adminDownload: { message: number; attachment: number };
}

interface Call {
  args: ArgInput;
  /** Checks, after a refused call, that it changed nothing. */
  unchanged?: () => Promise<void>;
}

interface Row {
  access: Access;
  /** A new connection (and session) for the call: the command ends or rebinds it. */
  fresh?: boolean;
  prepare(f: Fixture, a: Actor): Promise<Call>;
  /** An allowed role for which OK is impossible by design, and the answer it gets instead. */
  allowedButNot?: Partial<Record<Role, string>>;
}

const none = async (): Promise<Call> => ({ args: {} });
const uniq = (f: Fixture, prefix: string): string => `${prefix}${++f.seq}`;

/** A pending registration request, made by a throwaway anonymous connection. */
async function pendingRequest(f: Fixture): Promise<number> {
  const c = await f.s.client();
  const username = uniq(f, 'req');
  const r = await c.request('REGISTER', { institution: `Inst ${username}`, contact: 'C', email: `${username}@example.ac.id`, username });
  await c.close();
  return Number(r.args.get('id'));
}

function countRows(f: Fixture, table: string): number {
  return Number(f.s.server.store.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get());
}

async function registrationStatus(f: Fixture, id: number): Promise<string | undefined> {
  return (await f.s.server.store.getRegistration(id))?.status;
}

/** A message of the actor's own (or mm's, for actors that cannot send) still waiting for its attachment. */
async function sendingMessage(f: Fixture, a: Actor, to = 'pp'): Promise<{ id: number; attachment: number }> {
  const sender = a.role === 'member' || a.role === 'admin' ? a.client : f.clients.get('mm')!;
  const sent = await sendDeclared(sender, to, [{ name: 'x.bin', data: noise(100, ++f.seq) }]);
  return { id: sent.id, attachment: sent.attachments[0]!.id };
}

/** A fresh member nobody else uses (for SUSPEND and RESETPASSWORD). */
async function victim(f: Fixture): Promise<string> {
  const name = uniq(f, 'victim');
  await f.s.member(name);
  return name;
}

function memoVictim(): (f: Fixture) => Promise<string> {
  let name: Promise<string> | undefined;
  return (f) => (name ??= victim(f));
}

const suspendVictim = memoVictim();
const resetVictim = memoVictim();
const archiveTarget = { name: '' };
const deleteGroup = { name: '' };

const TABLE: Record<string, Row> = {
  // --- anyone
  PING: { access: 'anyone', prepare: none },
  HELP: { access: 'anyone', prepare: none },
  QUIT: { access: 'anyone', fresh: true, prepare: none },
  REGISTER: {
    access: 'anyone',
    async prepare(f) {
      const username = uniq(f, 'reg');
      const before = countRows(f, 'registration_requests');
      return {
        args: { institution: `Inst ${username}`, contact: 'C', email: `${username}@example.ac.id`, username },
        unchanged: async () => f.t.equal(countRows(f, 'registration_requests'), before, 'refused REGISTER stored nothing'),
      };
    },
  },
  LOGIN: {
    access: 'anyone',
    fresh: true,
    async prepare(f) {
      return { args: { username: 'loginee', password: f.passwords.get('loginee')! } };
    },
  },
  // --- any logged-in account
  LOGOUT: { access: 'user', fresh: true, prepare: none },
  WHOAMI: { access: 'user', prepare: none },
  PASSWD: {
    access: 'user',
    async prepare(f, a) {
      const me = a.username ?? 'mm';
      const before = (await f.s.server.store.getUserByUsername(me))!.passwordHash;
      return {
        args: { old: f.passwords.get(me)!, new: `${uniq(f, 'new-password-')}-0123456789` },
        unchanged: async () => f.t.equal((await f.s.server.store.getUserByUsername(me))?.passwordHash, before, 'password unchanged'),
      };
    },
  },
  SEND: {
    access: 'user',
    async prepare(f) {
      const subject = uniq(f, 'matrix-send-');
      const before = countRows(f, 'messages');
      return {
        args: { to: 'pp', subject, body: 'hello' },
        unchanged: async () => f.t.equal(countRows(f, 'messages'), before, 'refused SEND stored nothing'),
      };
    },
  },
  INBOX: { access: 'user', prepare: none },
  OUTBOX: { access: 'user', prepare: none },
  READ: {
    access: 'user',
    async prepare(f, a) {
      return { args: { id: a.role === 'admin' ? f.adminSent : f.msgToMember } };
    },
  },
  DELETE: {
    access: 'user',
    // The administrator never receives messages (broadcasts and addressing reach members only).
    allowedButNot: { admin: 'NOT_FOUND' },
    async prepare(f) {
      const pp = f.clients.get('pp')!;
      const id = Number((await pp.request('SEND', { to: 'mm', subject: uniq(f, 'to-delete-') })).args.get('id'));
      return {
        args: { id },
        unchanged: async () => {
          const mm = (await f.s.server.store.getUserByUsername('mm'))!;
          const inbox = await f.s.server.store.inbox(mm.id, { limit: 500 });
          f.t.ok(inbox.some((e) => e.id === id), 'refused DELETE left the message in the inbox');
        },
      };
    },
  },
  DIRECTORY: { access: 'user', prepare: none },
  CHANNELS: { access: 'user', prepare: none },
  CHANNEL: { access: 'user', prepare: async () => ({ args: { name: 'pub' } }) },
  CHANNEL_HISTORY: { access: 'user', prepare: async () => ({ args: { name: 'pub' } }) },
  GROUPS: { access: 'user', prepare: none },
  GROUP: { access: 'user', prepare: async () => ({ args: { name: 'grp' } }) },
  UPLOAD: {
    access: 'user',
    async prepare(f, a) {
      const m = await sendingMessage(f, a);
      return {
        args: { message: m.id, attachment: m.attachment },
        unchanged: async () => f.t.equal(f.s.server.transfers.list().filter((x) => x.attachmentId === m.attachment).length, 0, 'no listener opened'),
      };
    },
  },
  DOWNLOAD: {
    access: 'user',
    async prepare(f, a) {
      const d = a.role === 'admin' ? f.adminDownload : f.memberDownload;
      const live = (): number => f.s.server.transfers.list().filter((x) => x.direction === 'download' && x.attachmentId === d.attachment).length;
      const before = live();
      return {
        args: { message: d.message, attachment: d.attachment },
        unchanged: async () => f.t.equal(live(), before, 'no listener opened'),
      };
    },
  },
  CANCEL: {
    access: 'user',
    async prepare(f, a) {
      const m = await sendingMessage(f, a);
      return {
        args: { id: m.id },
        unchanged: async () => f.t.equal((await f.s.server.store.getMessage(m.id))?.state, 'sending', 'refused CANCEL left the message waiting'),
      };
    },
  },
  // --- members only
  SUBSCRIBE: {
    access: 'member',
    async prepare(f) {
      const before = (await f.s.server.store.getChannel('pub'))!.subscribers;
      return {
        args: { name: 'pub' },
        unchanged: async () => f.t.equal((await f.s.server.store.getChannel('pub'))?.subscribers, before, 'refused SUBSCRIBE subscribed nobody'),
      };
    },
  },
  UNSUBSCRIBE: { access: 'member', prepare: async () => ({ args: { name: 'pub' } }) },
  // --- administrator
  CHANNEL_CREATE: {
    access: 'admin',
    async prepare(f) {
      const name = uniq(f, 'ch');
      return { args: { name }, unchanged: async () => f.t.equal(await f.s.server.store.getChannel(name), null, 'no channel created') };
    },
  },
  CHANNEL_UPDATE: {
    access: 'admin',
    async prepare(f) {
      const description = uniq(f, 'described ');
      return {
        args: { name: 'pub', description },
        unchanged: async () => f.t.not((await f.s.server.store.getChannel('pub'))?.description, description, 'description unchanged'),
      };
    },
  },
  CHANNEL_ARCHIVE: {
    access: 'admin',
    async prepare(f) {
      archiveTarget.name ||= (await f.admin.request('CHANNEL_CREATE', { name: uniq(f, 'arch') })).args.get('name')!;
      const name = archiveTarget.name;
      return { args: { name }, unchanged: async () => f.t.equal((await f.s.server.store.getChannel(name))?.archivedAt, null, 'not archived') };
    },
  },
  CHANNEL_UNARCHIVE: {
    access: 'admin',
    async prepare(f) {
      const name = uniq(f, 'unarch');
      await f.admin.request('CHANNEL_CREATE', { name });
      await f.admin.request('CHANNEL_ARCHIVE', { name });
      return { args: { name }, unchanged: async () => f.t.not((await f.s.server.store.getChannel(name))?.archivedAt, null, 'still archived') };
    },
  },
  CHANNEL_GRANT: {
    access: 'admin',
    async prepare(f) {
      return { args: { name: 'pub', username: 'pp', role: 'publisher' } };
    },
  },
  CHANNEL_REVOKE: { access: 'admin', prepare: async () => ({ args: { name: 'pub', username: 'pp', role: 'publisher' } }) },
  GROUP_CREATE: {
    access: 'admin',
    async prepare(f) {
      const name = uniq(f, 'g');
      return { args: { name, members: 'pp' }, unchanged: async () => f.t.notOk((await f.s.server.store.resolveGroups([name])).found.length, 'no group created') };
    },
  },
  GROUP_UPDATE: { access: 'admin', prepare: async (f) => ({ args: { name: 'grp', description: uniq(f, 'd') } }) },
  GROUP_DELETE: {
    access: 'admin',
    async prepare(f) {
      deleteGroup.name ||= (await f.admin.request('GROUP_CREATE', { name: uniq(f, 'gdel') })).args.get('name')!;
      const name = deleteGroup.name;
      return { args: { name }, unchanged: async () => f.t.equal((await f.s.server.store.resolveGroups([name])).found.length, 1, 'group still there') };
    },
  },
  GROUP_ADD: { access: 'admin', prepare: async () => ({ args: { name: 'grp', username: 'mm' } }) },
  GROUP_REMOVE: { access: 'admin', prepare: async () => ({ args: { name: 'grp', username: 'mm' } }) },
  PENDING: { access: 'admin', prepare: none },
  APPROVE: {
    access: 'admin',
    async prepare(f) {
      const id = await pendingRequest(f);
      return { args: { id }, unchanged: async () => f.t.equal(await registrationStatus(f, id), 'pending', 'still pending') };
    },
  },
  REJECT: {
    access: 'admin',
    async prepare(f) {
      const id = await pendingRequest(f);
      return { args: { id, reason: 'no' }, unchanged: async () => f.t.equal(await registrationStatus(f, id), 'pending', 'still pending') };
    },
  },
  MEMBERS: { access: 'admin', prepare: none },
  SUSPEND: {
    access: 'admin',
    async prepare(f) {
      const username = await suspendVictim(f);
      return { args: { username }, unchanged: async () => f.t.equal((await f.s.server.store.getUserByUsername(username))?.status, 'active', 'still active') };
    },
  },
  REACTIVATE: { access: 'admin', prepare: async () => ({ args: { username: 'pp' } }) },
  ONLINE: { access: 'admin', prepare: none },
  STATS: { access: 'admin', prepare: none },
  MAILQUEUE: { access: 'admin', prepare: none },
  MAILRETRY: { access: 'admin', prepare: none },
  AUDIT: { access: 'admin', prepare: none },
  BACKUP: { access: 'admin', prepare: async () => ({ args: { wait: 1 } }) },
  BACKUPS: { access: 'admin', prepare: none },
  RESETPASSWORD: {
    access: 'admin',
    async prepare(f) {
      const username = await resetVictim(f);
      const before = (await f.s.server.store.getUserByUsername(username))!.passwordHash;
      return {
        args: { username },
        unchanged: async () => f.t.equal((await f.s.server.store.getUserByUsername(username))?.passwordHash, before, 'password unchanged'),
      };
    },
  },
  EXPIRY: { access: 'admin', prepare: none },
  TRANSFERS: { access: 'admin', prepare: none },
};

/** What a role must get for a command of this access level: 'OK', or the access error codes. */
function expected(access: Access, role: Role): 'OK' | string[] {
  switch (role) {
    case 'anonymous':
    case 'registrant':
      return access === 'anyone' ? 'OK' : ['AUTH_REQUIRED'];
    case 'suspended':
      // The token was closed at suspension; were it not, the account's status still refuses it.
      return ['BAD_TOKEN', 'ACCOUNT_SUSPENDED'];
    case 'member':
      return access === 'admin' ? ['FORBIDDEN'] : 'OK';
    case 'admin':
      return access === 'member' ? ['FORBIDDEN'] : 'OK';
  }
}

t.test('every command against every role: only the allowed cells succeed', async (t) => {
  t.setTimeout(240_000);
  const s = await startServer(t, { transferConnectTimeoutMs: 5_000, logLevel: 'warn' });
  const passwords = new Map<string, string>();
  for (const name of ['mm', 'pp', 'ss', 'loginee']) passwords.set(name, (await readyMember(s, name)).password);
  const admin = await s.adminClient();
  passwords.set('admin', s.adminPassword());
  const clients = new Map<string, SiarClient>();
  for (const name of ['mm', 'pp', 'ss']) {
    const c = await s.client();
    await c.login(name, passwords.get(name)!);
    clients.set(name, c);
  }
  await admin.request('CHANNEL_CREATE', { name: 'pub' });
  await admin.request('GROUP_CREATE', { name: 'grp', members: 'pp' });

  // The suspended member: its connection is closed with SESSION_CLOSED, its token is dead, its login refused.
  const ssClient = clients.get('ss')!;
  const ssToken = ssClient.token;
  const ssClosed = new Promise<Error | null>((r) => ssClient.once('close', r));
  await admin.request('SUSPEND', { username: 'ss' });
  t.match(await ssClosed, { code: 'SESSION_CLOSED' }, 'suspension closes the live session at once');
  const ssLogin = await s.client();
  await t.rejects(ssLogin.login('ss', passwords.get('ss')!), { code: 'ACCOUNT_SUSPENDED' }, 'a suspended member cannot log in');

  // The pending registrant: REGISTERed (waiting for the decision), no account.
  const registrant = await s.client();
  const reg = await registrant.request('REGISTER', { institution: 'Pending U', contact: 'P', email: 'pending@example.ac.id', username: 'pendingreg', wait: 1 });
  t.equal(reg.args.get('waiting'), '1');
  await t.rejects(registrant.login('pendingreg', 'anything-at-all'), { code: 'BAD_CREDENTIALS' }, 'a pending registrant has no account to log in to');

  const pp = clients.get('pp')!;
  const mm = clients.get('mm')!;
  const msgToMember = Number((await pp.request('SEND', { to: 'mm', subject: 'for mm' })).args.get('id'));
  const adminSent = Number((await admin.request('SEND', { to: 'pp', subject: 'from admin' })).args.get('id'));
  const uploaded = async (sender: SiarClient, to: string, seed: number) => {
    const data = noise(1000, seed);
    const sent = await sendDeclared(sender, to, [{ name: `f${seed}.bin`, data }]);
    const r = await rawUpload(t, sender, sent.id, sent.attachments[0]!.id, data);
    t.match(r.verdict, { kind: 'ok' });
    return { message: sent.id, attachment: sent.attachments[0]!.id };
  };
  const f: Fixture = {
    t, s, admin, passwords, clients, seq: 0, msgToMember, adminSent,
    memberDownload: await uploaded(pp, 'mm', 901),
    adminDownload: await uploaded(admin, 'pp', 902),
  };

  // HELP of the live server against the table.
  const help = await admin.request('HELP');
  const listed = new Map(help.items.map((i) => [i.get('verb')!, i.get('access')!]));
  t.strictSame([...listed.keys()].sort(), Object.keys(TABLE).sort(), 'the table has a row for exactly the commands HELP lists');
  for (const [verb, access] of listed) {
    if (TABLE[verb]) t.equal(access, TABLE[verb].access, `${verb}: HELP's access level is the table's`);
  }

  const actorFor = async (role: Role, fresh: boolean): Promise<Actor> => {
    switch (role) {
      case 'anonymous':
        return { role, client: fresh ? await s.client() : anonymous, token: '', username: null };
      case 'registrant': {
        if (!fresh) return { role, client: registrant, token: '', username: null };
        const c = await s.client();
        const username = uniq(f, 'waiting');
        await c.request('REGISTER', { institution: `I ${username}`, contact: 'C', email: `${username}@example.ac.id`, username, wait: 1 });
        return { role, client: c, token: '', username: null };
      }
      case 'member': {
        if (!fresh) return { role, client: mm, token: mm.token, username: 'mm' };
        const c = await s.client();
        await c.login('mm', passwords.get('mm')!);
        return { role, client: c, token: c.token, username: 'mm' };
      }
      case 'suspended':
        return { role, client: fresh ? await s.client() : ssLogin, token: ssToken, username: 'ss' };
      case 'admin': {
        if (!fresh) return { role, client: admin, token: admin.token, username: 'admin' };
        const c = await s.client();
        await c.login('admin', passwords.get('admin')!);
        return { role, client: c, token: c.token, username: 'admin' };
      }
    }
  };
  const anonymous = await s.client();

  const grid: string[][] = [];
  let cells = 0;
  let refusedChecked = 0;
  for (const [verb, row] of Object.entries(TABLE)) {
    if (!listed.has(verb)) continue;
    const line = [verb, row.access];
    for (const role of ROLES) {
      const actor = await actorFor(role, !!row.fresh);
      const call = await row.prepare(f, actor);
      let outcome: string;
      try {
        const reply = await actor.client.request(verb, call.args, actor.token);
        outcome = 'OK';
        if (verb === 'PASSWD' && actor.username) passwords.set(actor.username, String(call.args.new));
        void reply;
      } catch (err) {
        if (!(err instanceof RemoteError)) throw err;
        outcome = err.code;
      }
      cells++;
      const want = expected(row.access, role);
      if (want === 'OK') {
        const instead = row.allowedButNot?.[role];
        t.equal(outcome, instead ?? 'OK', `${verb} as ${role}: allowed${instead ? ` (answers ${instead} by design)` : ''}`);
        line.push(outcome === 'OK' ? 'OK' : `(${outcome})`);
      } else {
        t.ok(want.includes(outcome), `${verb} as ${role}: refused with ${want.join('/')} (got ${outcome})`);
        line.push(outcome);
        if (call.unchanged) {
          await call.unchanged();
          refusedChecked++;
        }
      }
      if (row.fresh && actor.client !== anonymous) await actor.client.close();
    }
    grid.push(line);
  }
  t.comment(`${cells} cells (${grid.length} commands × ${ROLES.length} roles); ${refusedChecked} refused calls checked to have changed nothing`);
  t.comment(['| command | access | ' + ROLES.join(' | ') + ' |', ...grid.map((l) => `| ${l.join(' | ')} |`)].join('\n'));

  // The refused calls left the fixtures usable; the allowed ones did their work.
  t.equal((await s.server.store.getUserByUsername(await suspendVictim(f)))?.status, 'suspended', 'the admin\'s SUSPEND took effect');
  // Listeners opened by the allowed UPLOAD/DOWNLOAD cells close with their control connections.
  for (const c of [mm, pp, admin, anonymous, registrant, ssLogin]) await c.close();
  await s.server.transfers.whenIdle();
  t.equal(s.server.transfers.liveListeners(), 0, 'no shadow listener is left');
});

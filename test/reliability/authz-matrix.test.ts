/**
 * Authorisation matrix (issue 7 §3): every command in the live server's command table (HELP
 * lists the table itself), run by every role — anonymous, pending registrant, member still on its
 * mailed password, member, suspended member, administrator — and only the allowed cells succeed.
 * The table below says, per verb, who may run it and how to make a call that succeeds when
 * allowed; a verb the server knows that is missing from the table (or a row the server no longer
 * knows, or an access level that changed) fails the test, so new commands are covered.
 *
 * Allowed cells must answer OK (not merely "not FORBIDDEN"): the arguments are real. Refused
 * cells must answer the access error for that role — AUTH_REQUIRED without a token, BAD_TOKEN
 * (or ACCOUNT_SUSPENDED) with a suspended member's token, PASSWORD_CHANGE_REQUIRED for a session
 * opened with the mailed password, FORBIDDEN for the wrong role — and must change nothing: the
 * whole database (but the audit log and the mail queue, which refusals and earlier cells may
 * touch) is the same after a refused call as before it, and rows with non-database effects
 * (shadow listeners) check those too.
 */
import t, { type Test } from 'tap';
import { RemoteError, SiarClient } from '../../src/client/connection.js';
import { ERRORS, type ArgInput } from '../../src/protocol/index.js';
import { startServer, type TestServer } from '../helpers/siar.js';
import { noise, rawUpload, sendDeclared } from '../transfer/helpers.js';
import { mailedMember, readyMember } from './helpers.js';

type Access = 'anyone' | 'user' | 'member' | 'admin';
type Role = 'anonymous' | 'registrant' | 'mustchange' | 'member' | 'suspended' | 'admin';
/** The mailed-password role joins the matrix once the server knows the rule (its error code is catalogued). */
const MUST_CHANGE_ENFORCED = 'PASSWORD_CHANGE_REQUIRED' in ERRORS;
const ROLES: Role[] = ['anonymous', 'registrant', ...(MUST_CHANGE_ENFORCED ? ['mustchange' as const] : []), 'member', 'suspended', 'admin'];
/** All a session opened with the mailed (single-use) password may run besides the open commands. */
const BEFORE_PASSWORD_CHANGE = new Set(['PASSWD', 'LOGOUT', 'WHOAMI']);
/** Tables a refused call may legitimately touch (it may be audited), or that change on their own (mail is sent in the background). */
const UNWATCHED_TABLES = new Set(['audit_events', 'mail_queue']);

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
  /** Checks, after a refused call, that it changed nothing (its value is the assertion's, unused). */
  unchanged?: () => Promise<unknown>;
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

/**
 * Every watched table's rows, as text per table, to show that a refused call changed nothing.
 * When a popup was delivered is left out: delivery is marked in the background.
 */
function databaseState(f: Fixture): Map<string, string> {
  const db = f.s.server.store.db;
  const tables = db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`).pluck().all() as string[];
  return new Map(tables.filter((name) => !UNWATCHED_TABLES.has(name)).map((name) => [
    name,
    JSON.stringify(db.prepare(`SELECT * FROM "${name}"`).all(), (key, value: unknown) => (key === 'delivered_at' ? undefined : value)),
  ]));
}

function changedTables(before: Map<string, string>, after: Map<string, string>): string[] {
  return [...new Set([...before.keys(), ...after.keys()])].filter((name) => before.get(name) !== after.get(name));
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
  await mailedMember(f.s, name);
  return name;
}

function memoVictim(): (f: Fixture) => Promise<string> {
  let name: Promise<string> | undefined;
  return (f) => (name ??= victim(f));
}

const suspendVictim = memoVictim();
const resetVictim = memoVictim();
const reactivateVictim = memoVictim();
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
      return { args: { institution: `Inst ${username}`, contact: 'C', email: `${username}@example.ac.id`, username } };
    },
  },
  LOGIN: {
    access: 'anyone',
    fresh: true,
    prepare: async (f) => ({ args: { username: 'loginee', password: f.passwords.get('loginee')! } }),
  },
  // --- any logged-in account
  LOGOUT: { access: 'user', fresh: true, prepare: none },
  WHOAMI: { access: 'user', prepare: none },
  PASSWD: {
    access: 'user',
    // A fresh session: a mailed-password member that changed it is no longer one.
    fresh: true,
    prepare: async (f, a) => ({ args: { old: f.passwords.get(a.username ?? 'mm')!, new: `${uniq(f, 'new-password-')}-0123456789` } }),
  },
  SEND: { access: 'user', prepare: async (f) => ({ args: { to: 'pp', subject: uniq(f, 'matrix-send-'), body: 'hello' } }) },
  INBOX: { access: 'user', prepare: none },
  OUTBOX: { access: 'user', prepare: none },
  READ: { access: 'user', prepare: async (f, a) => ({ args: { id: a.role === 'admin' ? f.adminSent : f.msgToMember } }) },
  DELETE: {
    access: 'user',
    // The administrator never receives messages (broadcasts and addressing reach members only).
    allowedButNot: { admin: 'NOT_FOUND' },
    async prepare(f) {
      const pp = f.clients.get('pp')!;
      return { args: { id: Number((await pp.request('SEND', { to: 'mm', subject: uniq(f, 'to-delete-') })).args.get('id')) } };
    },
  },
  // Alerts (issue 21): only a recipient acknowledges; only the sender (or the administrator) reports.
  ACK: {
    access: 'user',
    allowedButNot: { admin: 'NOT_FOUND' },
    async prepare(f) {
      const pp = f.clients.get('pp')!;
      return { args: { id: Number((await pp.request('SEND', { to: 'mm', subject: uniq(f, 'to-ack-'), ack: 1 })).args.get('id')) } };
    },
  },
  REPORT: {
    access: 'user',
    async prepare(f, a) {
      if (a.role === 'admin') return { args: { id: f.adminSent } };
      const mm = f.clients.get('mm')!;
      return { args: { id: Number((await mm.request('SEND', { to: 'pp', subject: uniq(f, 'to-report-'), ack: 1 })).args.get('id')) } };
    },
  },
  RECALL: {
    access: 'user',
    // mm's own message (the administrator may recall any).
    async prepare(f) {
      const mm = f.clients.get('mm')!;
      return { args: { id: Number((await mm.request('SEND', { to: 'pp', subject: uniq(f, 'to-recall-') })).args.get('id')), reason: 'matrix' } };
    },
  },
  REMIND: {
    access: 'user',
    async prepare(f) {
      const mm = f.clients.get('mm')!;
      return { args: { id: Number((await mm.request('SEND', { to: 'pp', subject: uniq(f, 'to-remind-'), ack: 1 })).args.get('id')) } };
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
  CANCEL: { access: 'user', prepare: async (f, a) => ({ args: { id: (await sendingMessage(f, a)).id } }) },
  // --- members only
  SUBSCRIBE: { access: 'member', prepare: async () => ({ args: { name: 'pub' } }) },
  UNSUBSCRIBE: { access: 'member', prepare: async () => ({ args: { name: 'pub' } }) },
  // --- administrator
  CHANNEL_CREATE: { access: 'admin', prepare: async (f) => ({ args: { name: uniq(f, 'ch') } }) },
  CHANNEL_UPDATE: { access: 'admin', prepare: async (f) => ({ args: { name: 'pub', description: uniq(f, 'described ') } }) },
  CHANNEL_ARCHIVE: {
    access: 'admin',
    async prepare(f) {
      archiveTarget.name ||= (await f.admin.request('CHANNEL_CREATE', { name: uniq(f, 'arch') })).args.get('name')!;
      return { args: { name: archiveTarget.name } };
    },
  },
  CHANNEL_UNARCHIVE: {
    access: 'admin',
    async prepare(f) {
      const name = uniq(f, 'unarch');
      await f.admin.request('CHANNEL_CREATE', { name });
      await f.admin.request('CHANNEL_ARCHIVE', { name });
      return { args: { name } };
    },
  },
  CHANNEL_GRANT: { access: 'admin', prepare: async () => ({ args: { name: 'pub', username: 'pp', role: 'publisher' } }) },
  CHANNEL_REVOKE: { access: 'admin', prepare: async () => ({ args: { name: 'pub', username: 'pp', role: 'publisher' } }) },
  GROUP_CREATE: { access: 'admin', prepare: async (f) => ({ args: { name: uniq(f, 'g'), members: 'pp' } }) },
  GROUP_UPDATE: { access: 'admin', prepare: async (f) => ({ args: { name: 'grp', description: uniq(f, 'd') } }) },
  GROUP_DELETE: {
    access: 'admin',
    async prepare(f) {
      deleteGroup.name ||= (await f.admin.request('GROUP_CREATE', { name: uniq(f, 'gdel') })).args.get('name')!;
      return { args: { name: deleteGroup.name } };
    },
  },
  GROUP_ADD: { access: 'admin', prepare: async () => ({ args: { name: 'grp', username: 'mm' } }) },
  GROUP_REMOVE: { access: 'admin', prepare: async () => ({ args: { name: 'grp', username: 'mm' } }) },
  PENDING: { access: 'admin', prepare: none },
  APPROVE: { access: 'admin', prepare: async (f) => ({ args: { id: await pendingRequest(f) } }) },
  REJECT: { access: 'admin', prepare: async (f) => ({ args: { id: await pendingRequest(f), reason: 'no' } }) },
  MEMBERS: { access: 'admin', prepare: none },
  SUSPEND: { access: 'admin', prepare: async (f) => ({ args: { username: await suspendVictim(f) } }) },
  REACTIVATE: {
    access: 'admin',
    async prepare(f) {
      const username = await reactivateVictim(f);
      if ((await f.s.server.store.getUserByUsername(username))?.status === 'active') await f.admin.request('SUSPEND', { username });
      return { args: { username } };
    },
  },
  ONLINE: { access: 'admin', prepare: none },
  STATS: { access: 'admin', prepare: none },
  MAILQUEUE: { access: 'admin', prepare: none },
  MAILRETRY: { access: 'admin', prepare: none },
  AUDIT: { access: 'admin', prepare: none },
  BACKUP: { access: 'admin', prepare: async () => ({ args: { wait: 1 } }) },
  BACKUPS: { access: 'admin', prepare: none },
  RESETPASSWORD: { access: 'admin', prepare: async (f) => ({ args: { username: await resetVictim(f) } }) },
  EXPIRY: { access: 'admin', prepare: none },
  TRANSFERS: { access: 'admin', prepare: none },
};

/** What a role must get for a command: 'OK', or the access error codes. */
function expected(verb: string, access: Access, role: Role): 'OK' | string[] {
  switch (role) {
    case 'anonymous':
    case 'registrant':
      return access === 'anyone' ? 'OK' : ['AUTH_REQUIRED'];
    case 'mustchange':
      return access === 'anyone' || BEFORE_PASSWORD_CHANGE.has(verb) ? 'OK' : ['PASSWORD_CHANGE_REQUIRED'];
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
  // Every cell registers from 127.0.0.1: the per-address cap on pending requests is tested elsewhere (hardening).
  const s = await startServer(t, { transferConnectTimeoutMs: 5_000, logLevel: 'warn', maxPendingRegistrationsPerAddress: 1000 });
  const passwords = new Map<string, string>();
  for (const name of ['mm', 'pp', 'ss', 'loginee']) passwords.set(name, (await readyMember(s, name)).password);
  let admin = await s.adminClient();
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

  // The member on its mailed password: logged in, told to change it, and nothing more until it does.
  const mustChange = async (): Promise<{ client: SiarClient; username: string }> => {
    const { username, password } = await mailedMember(s, uniq(f, 'mc'));
    passwords.set(username, password);
    const client = await s.client();
    const reply = await client.login(username, password);
    t.equal(reply.mustChangePassword, true, `${username} logs in with its mailed password and is told to change it`);
    return { client, username };
  };

  const pp = clients.get('pp')!;
  let mm = clients.get('mm')!;
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

  const mc = await mustChange();

  // HELP of the live server (it lists the command table itself) against the table.
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
      case 'mustchange': {
        const { client, username } = fresh ? await mustChange() : mc;
        return { role, client, token: client.token, username };
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
      const want = expected(verb, row.access, role);
      const before = want === 'OK' ? null : databaseState(f);
      let outcome: string;
      // PASSWD closes every other session of the account (issue 20), the shared client's too.
      const shared = verb === 'PASSWD' ? (actor.username === 'mm' ? mm : actor.username === 'admin' ? admin : null) : null;
      const sharedClosed = shared ? new Promise<Error | null>((r) => shared.once('close', r)) : null;
      try {
        await actor.client.request(verb, call.args, actor.token);
        outcome = 'OK';
        if (verb === 'PASSWD' && actor.username) {
          passwords.set(actor.username, String(call.args.new));
          if (shared && sharedClosed) {
            t.match(await sharedClosed, { code: 'SESSION_CLOSED' }, `PASSWD as ${role} closes the account's other session; it logs in again`);
            const again = await s.client();
            await again.login(actor.username, passwords.get(actor.username)!);
            if (actor.username === 'admin') {
              // Back to the password in <data>/admin-password, which the test helpers log in with.
              await again.request('PASSWD', { old: passwords.get('admin')!, new: s.adminPassword() });
              passwords.set('admin', s.adminPassword());
            }
            if (actor.username === 'mm') clients.set('mm', (mm = again));
            else f.admin = admin = again;
          }
        }
      } catch (err) {
        if (!(err instanceof RemoteError)) throw err;
        outcome = err.code;
      }
      cells++;
      if (before) {
        t.strictSame(changedTables(before, databaseState(f)), [], `${verb} as ${role}: the refused call changed no table`);
        refusedChecked++;
      }
      if (want === 'OK') {
        const instead = row.allowedButNot?.[role];
        t.equal(outcome, instead ?? 'OK', `${verb} as ${role}: allowed${instead ? ` (answers ${instead} by design)` : ''}`);
        line.push(outcome === 'OK' ? 'OK' : `(${outcome})`);
      } else {
        t.ok(want.includes(outcome), `${verb} as ${role}: refused with ${want.join('/')} (got ${outcome})`);
        line.push(outcome);
        await call.unchanged?.();
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
  for (const c of [mm, pp, mc.client, admin, anonymous, registrant, ssLogin]) await c.close();
  await s.server.transfers.whenIdle();
  t.equal(s.server.transfers.liveListeners(), 0, 'no shadow listener is left');
});

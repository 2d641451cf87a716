import {
  SiarError, decodeRequest, encodeItem, encodeOk, salvageId, type ArgInput,
} from '../protocol/index.js';
import { isDiskFull } from '../transfer/disk-space.js';
import type { Connection } from './connection.js';
import { isStoreError } from '../core/ports/store/errors.js';
import { wireError } from '../core/wire-errors.js';
import type { Auth, Command, CommandContext, Services } from './commands/types.js';
import { RESERVED_FOR_ADMIN } from './admission.js';
import { hashToken } from './secrets.js';

/**
 * Runs one frame: decode, look the verb up, check the token and the role, call the handler,
 * answer. Only here are authentication and roles checked (docs/PROTOCOL.md §Commands).
 */
export function createDispatcher(services: Services, commands: ReadonlyMap<string, Command>) {
  return async function dispatch(conn: Connection, line: string): Promise<void> {
    let requestId = salvageId(line);
    const started = performance.now();
    let verb = '?';
    try {
      const request = decodeRequest(line);
      requestId = request.id;
      verb = request.verb;
      // Only an administrator's LOGIN may use a slot kept for the administrator (admission.ts).
      if (conn.onReservedSlot && request.verb !== 'LOGIN' && request.verb !== 'RESUME') throw new SiarError('TOO_MANY_REQUESTS', RESERVED_FOR_ADMIN);
      const command = commands.get(request.verb);
      if (!command) throw new SiarError('UNKNOWN_COMMAND', `Unknown command ${request.verb}; send HELP for the list.`);
      const auth = await authorize(services, command, request.token, conn);
      let after: Array<() => void> | null = null; // most commands push nothing
      const ctx: CommandContext = {
        services,
        conn,
        requestId,
        auth,
        log: conn.log,
        item: (args: ArgInput) => { conn.send(encodeItem(requestId, args)); },
        encodedItems: (rows: string) => { conn.sendEncoded(rows); },
        afterReply: (work) => { (after ??= []).push(work); },
      };
      const result = await command.handler(ctx, request.args);
      conn.send(encodeOk(requestId, result ?? {}));
      conn.log.info({ verb, rid: requestId, ms: elapsed(started), user: auth?.user.username }, 'command ok');
      if (after) {
        // The OK leaves first: the work after it (a broadcast's popups) may take a while.
        conn.flushOutput();
        runAfterReply(conn, verb, after);
      }
    } catch (thrown) {
      // A store's refusal (StoreError) answers as the protocol error it maps to (core/wire-errors.ts).
      const err = wireError(thrown) ?? thrown;
      if (isStoreError(thrown, 'busy')) {
        // Not a bug: the write waited for a lock or the database and changed nothing; the client may retry.
        conn.log.warn({ verb, rid: requestId, reason: thrown.message, ms: elapsed(started) }, 'database busy');
      }
      if (err instanceof SiarError) {
        conn.log.info({ verb, rid: requestId, code: err.code, ms: elapsed(started) }, 'command refused');
        conn.sendError(requestId, err);
        // A reserved slot is not held on to: any refusal there (a member's LOGIN, a wrong password) closes it.
        if (conn.onReservedSlot) conn.close();
        else if (isFrameError(err)) conn.countBadFrame();
      } else if (isDiskFull(err)) {
        // The write rolled back whole (SQLite's transaction): nothing was stored, and no OK went out.
        conn.log.error({ verb, rid: requestId, code: (err as { code?: string }).code }, 'database write failed: the disk is full');
        conn.sendError(requestId, new SiarError('DISK_FULL', 'The server\'s disk is full: nothing was stored. Try again later.'));
      } else {
        conn.log.error({ verb, rid: requestId, err }, 'command failed');
        conn.sendError(requestId, new SiarError('INTERNAL'));
      }
    }
  };
}

/** Only after an OK: a refused command pushes nothing. One failing must not stop the others. */
function runAfterReply(conn: Connection, verb: string, after: Array<() => void>): void {
  for (const work of after) {
    try {
      work();
    } catch (err) {
      conn.log.error({ verb, err }, 'work after the reply failed');
    }
  }
}

function isFrameError(err: SiarError): boolean {
  return ['BAD_FRAME', 'BAD_ESCAPE', 'BAD_UTF8', 'UNKNOWN_COMMAND', 'BAD_ARGUMENT'].includes(err.code);
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 100) / 100;
}

/**
 * What a session opened with a mailed (one-time) password may do before it sets its own: the
 * mailed password travelled in clear e-mail, so it must not read or send anything.
 */
const BEFORE_PASSWORD_CHANGE = new Set(['PASSWD', 'LOGOUT', 'WHOAMI']);

/** Resolves the token and checks the command's access level. */
async function authorize(services: Services, command: Command, token: string, conn: Connection): Promise<Auth | null> {
  if (command.access === 'anyone' && token === '') return null;
  if (token === '') throw new SiarError('AUTH_REQUIRED', `${command.verb} needs a session token; LOGIN first.`);
  const auth = await authenticate(services, conn, tokenHashFor(conn, token));
  // The restriction is the session's (opened with the mailed password): a password the member set
  // from another session lifts nothing. The member's flag covers a session opened just before a reset.
  const oneTime = auth.session.mustChangePassword || auth.user.mustChangePassword;
  if (oneTime && command.access !== 'anyone' && !BEFORE_PASSWORD_CHANGE.has(command.verb)) {
    throw new SiarError('PASSWORD_CHANGE_REQUIRED', `${command.verb} needs your own password: the mailed one is for the first login only. Set a new one with PASSWD (siar passwd).`);
  }
  if (command.access === 'admin' && auth.user.role !== 'admin') {
    throw new SiarError('FORBIDDEN', `${command.verb} is for administrators.`);
  }
  if (command.access === 'member' && auth.user.role !== 'member') {
    throw new SiarError('FORBIDDEN', `${command.verb} is for members.`);
  }
  return auth;
}

/**
 * A connection sends the same token with every request: its hash is kept with the connection, so
 * the sha256 runs once per session instead of once per command.
 */
const lastTokenHash = new WeakMap<Connection, { token: string; hash: string }>();

function tokenHashFor(conn: Connection, token: string): string {
  const last = lastTokenHash.get(conn);
  if (last?.token === token) return last.hash;
  const hash = hashToken(token);
  lastTokenHash.set(conn, { token, hash });
  return hash;
}

/**
 * The session the token names and its member: as this connection's last command found them, unless
 * the account cache heard of a change since (account-cache.ts), else read from the store and kept.
 */
async function authenticate(services: Services, conn: Connection, tokenHash: string): Promise<Auth> {
  const { store, accounts } = services;
  const cached = accounts.auth(conn, tokenHash);
  if (cached) {
    if (Date.parse(cached.session.expiresAt) > Date.now()) return cached;
    accounts.forgetAuth(conn);
    await store.closeSession(cached.session.id);
    throw new SiarError('TOKEN_EXPIRED');
  }
  const since = accounts.mark();
  const session = await store.findSession(tokenHash);
  if (!session) throw new SiarError('BAD_TOKEN');
  if (Date.parse(session.expiresAt) <= Date.now()) {
    await store.closeSession(session.id);
    throw new SiarError('TOKEN_EXPIRED');
  }
  const user = await store.getUserById(session.userId);
  if (!user) throw new SiarError('BAD_TOKEN');
  if (user.status !== 'active') throw new SiarError('ACCOUNT_SUSPENDED');
  accounts.rememberAuth(conn, tokenHash, { user, session }, since);
  return { user, session };
}

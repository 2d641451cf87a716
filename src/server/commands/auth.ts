import { SiarError } from '../../protocol/index.js';
import { admitLogin } from '../admission.js';
import { replayPending } from '../delivery.js';
import { generateToken, hashPassword, hashToken } from '../secrets.js';
import { requireText, requireUsername } from '../../protocol/arguments.js';
import { checkPassword, checkResume } from './password-guard.js';
import { authed, open, type Command } from './types.js';

export const MIN_PASSWORD_CHARS = 10;

export const authCommands: Command[] = [
  open('LOGIN', 'LOGIN username= password= [popups=0] — opens a session; missed popups follow the reply (popups=0: none, for one-shot scripts)', async (ctx, args) => {
    const { store, router, config } = ctx.services;
    const username = requireUsername(args);
    const password = requireText(args, 'password', 1024, 'Password');
    const since = ctx.services.accounts.mark(); // what is read from here on is kept for the next commands
    const user = await store.getUserByUsername(username);
    // Counted before the hash, refused at once when locked (password-guard.ts, throttle.ts).
    await checkPassword(ctx, { username, password, passwordHash: user?.passwordHash ?? null, failureKind: 'login_failed' });
    if (!user) throw new SiarError('BAD_CREDENTIALS'); // not reached: an unknown username never passes the check
    if (user.status !== 'active') {
      await store.audit({ kind: 'login_refused_suspended', actorId: user.id, subject: username, address: ctx.conn.remoteAddress });
      throw new SiarError('ACCOUNT_SUSPENDED');
    }
    // The member's connections on the other nodes, for the cap per member (a node counts its own).
    const elsewhere = await router.connectionsElsewhere(user.id);
    admitLogin(config, router.local, ctx.conn, user, elsewhere); // before a session is made for nothing
    const token = generateToken();
    const tokenHash = hashToken(token);
    const expiresAtMs = Date.now() + config.sessionTtlMs;
    const expiresAt = new Date(expiresAtMs).toISOString();
    // A mailed password opens a restricted session: the restriction is the session's, so a password
    // set from another session does not lift it (and that PASSWD closes this one anyway). Session and
    // login record in one transaction: a failed commit answers an error, never a token that was not stored.
    const session = await store.login({
      userId: user.id, tokenHash, address: ctx.conn.remoteAddress, expiresAt, mustChangePassword: user.mustChangePassword,
    });
    // Again, with no await before the attach: other LOGINs may have taken connections meanwhile.
    try {
      admitLogin(config, router.local, ctx.conn, user, elsewhere);
    } catch (err) {
      await store.closeSession(session.id);
      throw err;
    }
    if (ctx.conn.user) router.detach(ctx.conn);
    ctx.conn.user = { userId: user.id, username: user.username, role: user.role, sessionId: session.id, expiresAt: expiresAtMs, boundAt: Date.now() };
    // With the mailed password, popups wait until the member has set its own (see PASSWD).
    const wantsPopups = args.get('popups') !== '0';
    ctx.conn.wantsPopups = wantsPopups && !user.mustChangePassword;
    ctx.conn.popupsAfterPasswordChange = wantsPopups && user.mustChangePassword;
    router.attach(ctx.conn);
    ctx.conn.onReservedSlot = false; // an administrator on a reserved slot keeps it as its own
    ctx.services.accounts.rememberAuth(ctx.conn, tokenHash, { user, session }, since);
    ctx.log.info({ username, role: user.role }, 'login');
    const unread = await store.unreadCount(user.id);
    // After the OK: the client knows it is logged in before its missed popups arrive. A one-shot
    // client (popups=0) gets none, so they stay undelivered for the next interactive login.
    if (ctx.conn.wantsPopups) ctx.afterReply(() => {
      replayPending(ctx.services, ctx.conn).catch((err) => ctx.log.error({ err }, 'replay of pending popups failed'));
    });
    return {
      token, username: user.username, role: user.role, institution: user.institution, expiresAt,
      mustChangePassword: user.mustChangePassword ? 1 : 0, unread,
    };
  }),

  open('RESUME', 'RESUME token= [popups=0] — re-attaches this connection to an open session (after a reconnect or on another node), without the password; missed popups follow the reply', async (ctx, args) => {
    const { store, router, config } = ctx.services;
    const token = requireText(args, 'token', 128, 'Token');
    const since = ctx.services.accounts.mark();
    // No password hash on this path: one sha256 and one indexed lookup, so a node's clients can all
    // move at once. Guessing is throttled per address like wrong passwords (password-guard.ts).
    const { session, user } = await checkResume(ctx, token);
    if (Date.parse(session.expiresAt) <= Date.now()) {
      await store.closeSession(session.id);
      throw new SiarError('TOKEN_EXPIRED', 'That session has expired; log in again with your password.');
    }
    if (user.status !== 'active') throw new SiarError('ACCOUNT_SUSPENDED');
    const elsewhere = await router.connectionsElsewhere(user.id);
    admitLogin(config, router.local, ctx.conn, user, elsewhere);
    // Not a login: the member's last login (time and address) is its last LOGIN, so a reconnect
    // storm writes nothing here (the administrator sees where a session is now under ONLINE).
    const unread = await store.unreadCount(user.id);
    // Again, with no await before the attach: other LOGINs may have taken connections meanwhile.
    admitLogin(config, router.local, ctx.conn, user, elsewhere);
    if (ctx.conn.user) router.detach(ctx.conn);
    const expiresAtMs = Date.parse(session.expiresAt);
    ctx.conn.user = { userId: user.id, username: user.username, role: user.role, sessionId: session.id, expiresAt: expiresAtMs, boundAt: Date.now() };
    // The session keeps its restriction: opened with a mailed password, it gets popups only after PASSWD.
    const restricted = session.mustChangePassword || user.mustChangePassword;
    const wantsPopups = args.get('popups') !== '0';
    ctx.conn.wantsPopups = wantsPopups && !restricted;
    ctx.conn.popupsAfterPasswordChange = wantsPopups && restricted;
    router.attach(ctx.conn);
    ctx.conn.onReservedSlot = false;
    ctx.services.accounts.rememberAuth(ctx.conn, hashToken(token), { user, session }, since);
    ctx.log.info({ username: user.username, role: user.role, sessionId: session.id }, 'session resumed');
    if (ctx.conn.wantsPopups) ctx.afterReply(() => {
      replayPending(ctx.services, ctx.conn).catch((err) => ctx.log.error({ err }, 'replay of pending popups failed'));
    });
    return {
      username: user.username, role: user.role, institution: user.institution, expiresAt: session.expiresAt,
      mustChangePassword: restricted ? 1 : 0, unread,
    };
  }),

  authed('LOGOUT', 'user', 'LOGOUT — ends the session of the token', async (ctx) => {
    const { store, router } = ctx.services;
    const { user, session } = ctx.auth;
    await store.closeSession(session.id);
    if (ctx.conn.user?.sessionId === session.id) {
      router.detach(ctx.conn);
      ctx.conn.user = null;
    }
    // The connection that logged in with this token, if it is another one, stops receiving pushes now.
    await router.disconnectSessions(user.id, { only: session.id }, 'SESSION_CLOSED', 'This session was logged out from another connection.');
    return { loggedOut: 1 };
  }),

  authed('WHOAMI', 'user', 'WHOAMI — who the token belongs to', async (ctx) => {
    const u = ctx.auth.user;
    return {
      username: u.username, role: u.role, institution: u.institution, email: u.email,
      expiresAt: ctx.auth.session.expiresAt, mustChangePassword: ctx.auth.session.mustChangePassword || u.mustChangePassword ? 1 : 0,
    };
  }),

  authed('PASSWD', 'user', 'PASSWD old= new= — changes the password (the mailed one is for the first login only)', async (ctx, args) => {
    const old = requireText(args, 'old', 1024, 'Current password');
    const next = requireText(args, 'new', 1024, 'New password');
    if (next.length < MIN_PASSWORD_CHARS) {
      throw new SiarError('BAD_ARGUMENT', `The new password needs at least ${MIN_PASSWORD_CHARS} characters.`);
    }
    const { user, session } = ctx.auth;
    const { store, router } = ctx.services;
    await checkPassword(ctx, {
      username: user.username, password: old, passwordHash: user.passwordHash, failureKind: 'password_change_failed', actorId: user.id,
      failureMessage: 'The current password is wrong.',
    });
    const { sessions } = await store.changePassword({ userId: user.id, sessionId: session.id, passwordHash: await hashPassword(next), address: ctx.conn.remoteAddress });
    const decidedAt = Date.now();
    // The member's password and this session's restriction changed: every node reads them again at
    // its next command (a connection resumed on this session elsewhere included), this one at once.
    router.memberChanged(user.id, 'password_changed');
    // Every other session of the member is closed; after the OK, their connections are told why.
    ctx.afterReply(() => {
      router.disconnectSessions(user.id, { except: session.id }, 'SESSION_CLOSED', 'The password was changed from another session; log in again with the new one.', decidedAt)
        .catch((err: unknown) => ctx.log.error({ err }, 'closing the other sessions failed'));
    });
    if (ctx.conn.popupsAfterPasswordChange && ctx.conn.user?.sessionId === ctx.auth.session.id) {
      ctx.conn.popupsAfterPasswordChange = false;
      ctx.conn.wantsPopups = true;
      router.popupsChanged(ctx.conn);
      ctx.afterReply(() => {
        replayPending(ctx.services, ctx.conn).catch((err) => ctx.log.error({ err }, 'replay of pending popups failed'));
      });
    }
    return { changed: 1, sessionsClosed: sessions };
  }),
];

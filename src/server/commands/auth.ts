import { SiarError } from '../../protocol/index.js';
import { admitLogin } from '../admission.js';
import { replayPending } from '../delivery.js';
import { decoyPasswordHash, generateToken, hashPassword, hashToken, verifyPassword } from '../secrets.js';
import { requireText, requireUsername } from '../validation.js';
import { authed, open, type Command } from './types.js';

export const MIN_PASSWORD_CHARS = 10;

export const authCommands: Command[] = [
  open('LOGIN', 'LOGIN username= password= [popups=0] — opens a session; missed popups follow the reply (popups=0: none, for one-shot scripts)', async (ctx, args) => {
    const { store, router, config, throttle } = ctx.services;
    const username = requireUsername(args);
    const password = requireText(args, 'password', 1024, 'Password');
    const address = ctx.conn.remoteAddress;
    const verdict = throttle.check(username, address);
    if (verdict.locked) {
      await store.audit({ kind: 'login_locked', subject: username, address, detail: { retryAfterMs: verdict.retryAfterMs } });
      const minutes = Math.ceil(verdict.retryAfterMs / 60_000);
      throw new SiarError('LOGIN_LOCKED', `Too many failed logins; try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`);
    }
    const user = await store.getUserByUsername(username);
    // Hash even for unknown usernames, so timing does not tell which usernames exist.
    const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyPasswordHash()));
    if (!user || !ok) {
      const lockedNow = throttle.fail(username, address);
      await store.audit({ kind: 'login_failed', subject: username, address });
      if (lockedNow) await store.audit({ kind: 'login_lockout', subject: username, address });
      ctx.log.info({ username, lockedNow }, 'login failed');
      // A growing delay before the answer slows guessing (the connection runs one command at a time).
      if (verdict.delayMs > 0) await new Promise((r) => setTimeout(r, verdict.delayMs));
      throw new SiarError('BAD_CREDENTIALS');
    }
    throttle.succeed(username);
    if (user.status !== 'active') {
      await store.audit({ kind: 'login_refused_suspended', actorId: user.id, subject: username, address: ctx.conn.remoteAddress });
      throw new SiarError('ACCOUNT_SUSPENDED');
    }
    admitLogin(config, router, ctx.conn, user); // before a session is made for nothing
    const token = generateToken();
    const expiresAt = new Date(Date.now() + config.sessionTtlMs).toISOString();
    const session = await store.createSession({
      userId: user.id, tokenHash: hashToken(token), address: ctx.conn.remoteAddress, expiresAt,
    });
    // Again, with no await before the attach: other LOGINs may have taken connections meanwhile.
    try {
      admitLogin(config, router, ctx.conn, user);
    } catch (err) {
      await store.closeSession(session.id);
      throw err;
    }
    if (ctx.conn.user) router.detach(ctx.conn);
    ctx.conn.user = { userId: user.id, username: user.username, role: user.role, sessionId: session.id };
    // With the mailed password, popups wait until the member has set its own (see PASSWD).
    const wantsPopups = args.get('popups') !== '0';
    ctx.conn.wantsPopups = wantsPopups && !user.mustChangePassword;
    ctx.conn.popupsAfterPasswordChange = wantsPopups && user.mustChangePassword;
    router.attach(ctx.conn);
    ctx.conn.onReservedSlot = false; // an administrator on a reserved slot keeps it as its own
    await store.recordLogin(user.id, ctx.conn.remoteAddress);
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

  authed('LOGOUT', 'user', 'LOGOUT — ends the session of the token', async (ctx) => {
    await ctx.services.store.closeSession(ctx.auth.session.id);
    if (ctx.conn.user?.sessionId === ctx.auth.session.id) {
      ctx.services.router.detach(ctx.conn);
      ctx.conn.user = null;
    }
    return { loggedOut: 1 };
  }),

  authed('WHOAMI', 'user', 'WHOAMI — who the token belongs to', async (ctx) => {
    const u = ctx.auth.user;
    return {
      username: u.username, role: u.role, institution: u.institution, email: u.email,
      expiresAt: ctx.auth.session.expiresAt, mustChangePassword: u.mustChangePassword ? 1 : 0,
    };
  }),

  authed('PASSWD', 'user', 'PASSWD old= new= — changes the password (the mailed one is for the first login only)', async (ctx, args) => {
    const old = requireText(args, 'old', 1024, 'Current password');
    const next = requireText(args, 'new', 1024, 'New password');
    if (next.length < MIN_PASSWORD_CHARS) {
      throw new SiarError('BAD_ARGUMENT', `The new password needs at least ${MIN_PASSWORD_CHARS} characters.`);
    }
    if (!(await verifyPassword(old, ctx.auth.user.passwordHash))) throw new SiarError('BAD_CREDENTIALS', 'The current password is wrong.');
    await ctx.services.store.setPassword(ctx.auth.user.id, await hashPassword(next), false);
    await ctx.services.store.audit({ kind: 'password_changed', actorId: ctx.auth.user.id, subject: ctx.auth.user.username });
    if (ctx.conn.popupsAfterPasswordChange && ctx.conn.user?.sessionId === ctx.auth.session.id) {
      ctx.conn.popupsAfterPasswordChange = false;
      ctx.conn.wantsPopups = true;
      ctx.afterReply(() => {
        replayPending(ctx.services, ctx.conn).catch((err) => ctx.log.error({ err }, 'replay of pending popups failed'));
      });
    }
    return { changed: 1 };
  }),
];

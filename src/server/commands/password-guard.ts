/**
 * Password checks under the login throttle (../throttle.ts), shared by LOGIN and PASSWD old= so
 * neither is an unthrottled oracle. An attempt refused by a lock costs no hash and no audit row
 * (the throttle counts it and reports the count once the lock is over); each checked failure is
 * audited, and a lock and the per-username alert once each.
 */
import { SiarError } from '../../protocol/index.js';
import type { Session, User } from '../../core/ports/store.js';
import { decoyPasswordHash, hashToken, verifyPassword } from '../secrets.js';
import type { LoginAlert, Refusal, ThrottleReport } from '../throttle.js';
import type { CommandContext, Services } from './types.js';

export interface PasswordCheck {
  username: string;
  password: string;
  /** The stored hash; null for an unknown username (a decoy is hashed, so timing tells nothing). */
  passwordHash: string | null;
  /** Audit kind of a checked failure. */
  failureKind: 'login_failed' | 'password_change_failed';
  actorId?: number;
  /** The BAD_CREDENTIALS sentence (the catalogue's by default). */
  failureMessage?: string;
}

/** Resolves when the password is right; throws LOGIN_LOCKED or BAD_CREDENTIALS otherwise. */
export async function checkPassword(ctx: CommandContext, check: PasswordCheck): Promise<void> {
  const { throttle, store, config } = ctx.services;
  const address = ctx.conn.remoteAddress;
  const started = await throttle.begin(check.username, address);
  if (started.refused) throw lockedError(started.refused);
  const { attempt } = started;
  let ok: boolean;
  try {
    ok = await verifyPassword(check.password, check.passwordHash ?? (await decoyPasswordHash()));
  } catch (err) {
    await attempt.abandon();
    throw err;
  }
  if (ok && check.passwordHash !== null) {
    await attempt.succeed();
    return;
  }
  const outcome = await attempt.fail();
  await store.audit({ kind: check.failureKind, actorId: check.actorId ?? null, subject: check.username, address });
  if (outcome.lockedNow) {
    await store.audit({
      kind: 'login_lockout', subject: check.username, address,
      detail: { scope: outcome.lockedNow, minutes: Math.ceil(config.loginThrottle.lockoutMs / 60_000) },
    });
  }
  if (outcome.alert) await raiseAlert(ctx.services, outcome.alert);
  ctx.log.info({ username: check.username, kind: check.failureKind, lockedNow: outcome.lockedNow }, 'wrong password');
  // A growing delay before the answer slows guessing (the connection runs one command at a time).
  if (outcome.delayMs > 0) await new Promise((r) => setTimeout(r, outcome.delayMs));
  throw new SiarError('BAD_CREDENTIALS', check.failureMessage);
}

/**
 * The throttle's name for RESUME attempts: no username is known before the token is, and no real
 * username starts with `#`. A wrong token counts against this (name, address) pair and the address.
 */
export const RESUME_THROTTLE_NAME = '#resume';

/**
 * RESUME's token check under the same throttle as passwords: an unknown or closed token is a
 * failure (audited `resume_failed`, slowed, then locked per address); a known one, expired or not,
 * is not a guess and is not counted. Cheap: one sha256 and one store read (the session and its member), no password hash.
 */
export async function checkResume(ctx: CommandContext, token: string): Promise<{ session: Session; user: User }> {
  const { throttle, store, config } = ctx.services;
  const address = ctx.conn.remoteAddress;
  // Refused at once while the address is locked. The check is let go before the lookup: right
  // tokens are never counted, so the clients of a stopped node behind one address (a campus NAT)
  // may all resume at once without looking like parallel guesses. Attempts merely under way (the
  // throttle's round trips on Redis, or password logins from the same address) do not hold a right
  // token back: only a lock does.
  const started = await throttle.begin(RESUME_THROTTLE_NAME, address);
  if (started.refused?.locked) throw resumeRefusal(started.refused);
  await started.attempt?.abandon();
  const found = await store.findSessionAndUser(hashToken(token));
  if (found) return found;
  const outcome = await (await begin(throttle, address)).fail();
  await store.audit({ kind: 'resume_failed', subject: null, address });
  if (outcome.lockedNow) {
    await store.audit({
      kind: 'login_lockout', subject: RESUME_THROTTLE_NAME, address,
      detail: { scope: outcome.lockedNow, minutes: Math.ceil(config.loginThrottle.lockoutMs / 60_000) },
    });
  }
  ctx.log.info({ address, lockedNow: outcome.lockedNow }, 'unknown session token on RESUME');
  if (outcome.delayMs > 0) await new Promise((r) => setTimeout(r, outcome.delayMs));
  throw new SiarError('BAD_TOKEN', 'That session is unknown or closed; log in with your password.');
}

/** A RESUME attempt under the throttle, or its refusal. */
async function begin(throttle: CommandContext['services']['throttle'], address: string) {
  const started = await throttle.begin(RESUME_THROTTLE_NAME, address);
  if (!started.refused) return started.attempt;
  throw resumeRefusal(started.refused);
}

/**
 * LOGIN_LOCKED only for a lock. Attempts under way are BUSY: a client retries that after its
 * backoff; LOGIN_LOCKED would make it give the token up (and fall back to the password, or ask the
 * person for it) in the middle of a failover.
 */
function resumeRefusal(r: Refusal): SiarError {
  if (!r.locked) return new SiarError('BUSY', 'Too many session resumes from your address are being checked at once; try again in a moment.');
  const minutes = Math.max(1, Math.ceil(r.retryAfterMs / 60_000));
  return new SiarError('LOGIN_LOCKED', `Too many unknown session tokens from your address; try again in ${minutes} minute${minutes === 1 ? '' : 's'}, or log in with your password.`);
}

function lockedError(r: Refusal): SiarError {
  const who = r.scope === 'pair' ? 'for this account from your address' : 'from your address';
  if (!r.locked) return new SiarError('LOGIN_LOCKED', `Too many logins ${who} are being checked at once; try again in a moment.`);
  const minutes = Math.max(1, Math.ceil(r.retryAfterMs / 60_000));
  return new SiarError('LOGIN_LOCKED', `Too many failed logins ${who}; try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`);
}

/** The per-username signal: admins hear it live (LOGIN_ALERT push, console), the log and the audit keep it. */
async function raiseAlert(services: Services, alert: LoginAlert): Promise<void> {
  const { router, store, log, config } = services;
  const since = new Date(alert.since).toISOString();
  const windowMinutes = Math.ceil(config.loginThrottle.windowMs / 60_000);
  router.pushToAdmins('LOGIN_ALERT', { username: alert.username, failures: alert.failures, addresses: alert.addresses.join(','), since, windowMinutes });
  log.warn({ username: alert.username, failures: alert.failures, addresses: alert.addresses, since },
    'many failed logins for one username from several addresses: each further failure is slowed (the account is not locked)');
  await store.audit({ kind: 'login_alert', subject: alert.username, detail: { failures: alert.failures, addresses: alert.addresses, since } });
}

/** Writes the throttle's after-the-fact counts to the audit log: one row per lock, one per alert window. */
export function auditThrottleReports(services: Services): (report: ThrottleReport) => void {
  const { store, log } = services;
  const iso = (ms: number): string => new Date(ms).toISOString();
  return (r) => {
    const event = r.kind === 'refused'
      ? { kind: 'login_locked', subject: r.username, address: r.address, detail: { scope: r.scope, attempts: r.attempts, since: iso(r.since), until: iso(r.until) } }
      : { kind: 'login_alert_ended', subject: r.username, detail: { failures: r.failures, addresses: r.addresses, since: iso(r.since), until: iso(r.until) } };
    store.audit(event).catch((err: unknown) => log.error({ err, kind: event.kind }, 'could not audit login throttle counts'));
  };
}

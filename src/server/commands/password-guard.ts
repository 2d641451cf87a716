/**
 * Password checks under the login throttle (../throttle.ts), shared by LOGIN and PASSWD old= so
 * neither is an unthrottled oracle. An attempt refused by a lock costs no hash and no audit row
 * (the throttle counts it and reports the count once the lock is over); each checked failure is
 * audited, and a lock and the per-username alert once each.
 */
import { SiarError } from '../../protocol/index.js';
import { decoyPasswordHash, verifyPassword } from '../secrets.js';
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

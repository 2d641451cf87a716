/**
 * The administrator's operations verbs (docs/PROTOCOL-admin.md): traffic, the mail queue, the
 * audit log, backups, password resets and the expiry of undecided registration requests.
 * Registrations and members themselves are in admin.ts.
 */
import { SiarError, type ArgInput, type Args } from '../../protocol/index.js';
import { BackupBusyError, type AttachmentMode, type BackupJob } from '../backup.js';
import { passwordResetMail, registrationExpiredMail } from '../mail/templates.js';
import { generatePassword, hashPassword } from '../secrets.js';
import type { OutgoingMail, QueuedMail, RegistrationRequest, User } from '../../core/ports/store.js';
import type { CounterValues } from '../../core/ports/traffic-counters.js';
import { flag, optionalId, pageFrom, requireUsername } from '../../protocol/arguments.js';
import { toRegistrationRecord } from './registration.js';
import { authed, type AuthedContext, type Command, type Services } from './types.js';

const DAY_MS = 24 * 60 * 60_000;

export function mailStatus(m: QueuedMail): 'sent' | 'failed' | 'queued' {
  if (m.sentAt) return 'sent';
  return m.lastError !== null && m.attempts > 0 ? 'failed' : 'queued';
}

/** A queued mail as the admin sees it: never its text (credentials are secrets). */
export function mailArgs(m: QueuedMail): ArgInput {
  return {
    id: m.id, kind: m.kind, to: m.to, subject: m.subject, status: mailStatus(m), createdAt: m.createdAt,
    attempts: m.attempts, nextAttemptAt: m.sentAt ? '' : m.nextAttemptAt, sentAt: m.sentAt ?? '', lastError: m.lastError ?? '',
  };
}

/** The BACKUP push and reply: where a backup job stands. */
export function backupArgs(job: BackupJob): ArgInput {
  const m = job.manifest;
  return {
    name: job.name, status: job.status, phase: job.phase, by: job.by, startedAt: job.startedAt,
    totalPages: job.totalPages, remainingPages: job.remainingPages,
    percent: job.status === 'done' ? 100 : job.totalPages > 0 ? Math.floor(((job.totalPages - job.remainingPages) * 100) / job.totalPages) : 0,
    error: job.error ?? undefined,
    file: m ? m.file : undefined,
    bytes: m?.bytes, messages: m?.report.messages, members: m?.report.members, integrity: m?.report.integrity,
    attachments: m?.attachments.count, attachmentMode: m?.attachments.mode, attachmentsMissing: m?.attachments.missing,
    attachmentDir: m?.attachments.dir ?? undefined,
  };
}

/**
 * A point in time given as ISO 8601 (`2025-11-26`, `2025-11-26T08:00:00Z`) or as an age before now
 * (`90s`, `30m`, `24h`, `7d`).
 */
export function parseTime(value: string, key: string, nowMs = Date.now()): string {
  const rel = /^(\d{1,9})([smhd])$/.exec(value.trim());
  if (rel) {
    const unit = { s: 1000, m: 60_000, h: 3_600_000, d: DAY_MS }[rel[2] as 's' | 'm' | 'h' | 'd'];
    return new Date(nowMs - Number(rel[1]) * unit).toISOString();
  }
  const ms = /^\d{4}-\d\d-\d\d/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new SiarError('BAD_ARGUMENT', `${key} must be an ISO 8601 time or an age such as 30m, 24h, 7d.`);
  return new Date(ms).toISOString();
}

async function memberByName(ctx: AuthedContext, username: string): Promise<User> {
  const user = await ctx.services.store.getUserByUsername(username);
  if (!user || user.role !== 'member') throw new SiarError('NOT_FOUND', `No member named ${username}.`);
  return user;
}

function nonNegativeNumber(args: Args, key: string): number | undefined {
  const raw = args.get(key);
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,6}(\.\d{1,6})?$/.test(raw)) throw new SiarError('BAD_ARGUMENT', `${key} must be a number of days, 0 or more.`);
  return Number(raw);
}

/**
 * Expires every pending request older than `days` (the configured value by default): each becomes
 * 'expired', the registrant gets a notice mail (and a DECISION push if waiting), admins a DECIDED push.
 */
export async function expireRegistrations(services: Services, actorId: number | null, days = services.config.registrationExpiryDays): Promise<number> {
  if (!(days > 0)) return 0; // 0 = never
  const olderThanIso = new Date(Date.now() - days * DAY_MS).toISOString();
  // The notices are made first (nothing of ours runs inside the store's transaction); a request
  // decided meanwhile is left as it is, one made after the listing waits for the next sweep.
  const mails = new Map<number, OutgoingMail>();
  for (const r of await pendingBefore(services, olderThanIso)) {
    const waited = (Date.now() - Date.parse(r.createdAt)) / DAY_MS;
    const m = registrationExpiredMail({ institution: r.institution, contact: r.contact, username: r.username, days: waited });
    mails.set(r.id, { kind: 'expiry', to: r.email, subject: m.subject, sealedText: services.mail.seal(m.text) });
  }
  if (mails.size === 0) return 0;
  const expired = await services.store.expireRegistrations({ olderThanIso, actorId, mails });
  if (expired.length === 0) return 0;
  services.mail.kick();
  for (const { request, mailId } of expired) {
    services.router.pushToRegistrant(request.id, 'DECISION', { id: request.id, status: 'expired' });
    services.router.pushToAdmins('DECIDED', { id: request.id, status: 'expired', username: request.username, mailId });
  }
  services.log.info({ count: expired.length, days, ids: expired.map((e) => e.request.id) }, 'registration requests expired');
  return expired.length;
}

/** Most requests one sweep expires; pending ones are listed oldest first, so any more go at the next sweep. */
const EXPIRY_BATCH = 10_000;

/** Pending requests created before `olderThanIso`, oldest first, at most EXPIRY_BATCH. */
async function pendingBefore(services: Services, olderThanIso: string): Promise<RegistrationRequest[]> {
  const pending = await services.store.listRegistrations('pending', { limit: EXPIRY_BATCH });
  return pending.filter((r) => r.createdAt < olderThanIso);
}

const MAIL_FILTERS = ['unsent', 'failed', 'all'] as const;

/** STATS counts open acknowledgements over this many of the newest open messages asking for one (a bounded read). */
export const OPEN_ACK_MESSAGES = 1000;
const ATTACHMENT_MODES: readonly AttachmentMode[] = ['copy', 'list'];

export const adminOpsCommands: Command[] = [
  authed('STATS', 'admin', 'STATS [minutes=N] — this node\'s traffic totals, every node\'s counts and their sum; one ITEM per minute (oldest first, the running minute last)', async (ctx, args) => {
    const { stats, config } = ctx.services;
    // minutes=0: the running minute only.
    const minutes = args.get('minutes') === '0' ? 0
      : args.has('minutes') ? Math.min(optionalId(args, 'minutes') ?? 0, config.statsHistoryMinutes) : config.statsHistoryMinutes;
    for (const s of stats.history(minutes)) {
      ctx.item({ ...s, partial: s.partial ? 1 : 0 });
    }
    const totals = stats.totals();
    const cluster = await stats.cluster();
    const counts = (c: CounterValues): string => `${c.messages},${c.popups},${c.bytesIn},${c.bytesOut},${c.connectionsOpened}`;
    const open = await ctx.services.store.openAcknowledgements(new Date().toISOString(), OPEN_ACK_MESSAGES);
    return {
      ...totals,
      openAcks: open.pending, openAckMessages: open.messages,
      online: (await ctx.services.router.online()).length,
      transfer: stats.transfersInProgress().map((t) => `${t.id},${t.direction},${t.bytes},${t.size},${t.user},${t.name}`),
      registrationExpiryDays: config.registrationExpiryDays,
      nodeId: cluster.node,
      // Every node's counts since it started (the name last: it may hold a comma), then their sum.
      node: cluster.nodes.map((n) => `${counts(n.counters)},${n.node}`),
      total: counts(cluster.total),
    };
  }),

  authed('MAILQUEUE', 'admin', 'MAILQUEUE [status=unsent|failed|all] [id=] [limit=] [before=] — queued mail, newest first, with errors', async (ctx, args) => {
    const { store, config } = ctx.services;
    const id = optionalId(args, 'id');
    if (id !== undefined) {
      const m = await store.getMail(id);
      if (!m) throw new SiarError('NOT_FOUND', `No mail ${id}.`);
      ctx.item(mailArgs(m));
      return { count: 1 };
    }
    const status = (args.get('status') ?? 'unsent') as (typeof MAIL_FILTERS)[number];
    if (!MAIL_FILTERS.includes(status)) throw new SiarError('BAD_ARGUMENT', `status must be one of ${MAIL_FILTERS.join(', ')}.`);
    const mails = await store.listMail(status, pageFrom(args, config.maxPageSize, 100));
    for (const m of mails) ctx.item(mailArgs(m));
    return { count: mails.length };
  }),

  authed('MAILRETRY', 'admin', 'MAILRETRY [id=] — sends unsent mail now (one, or all) instead of at its next attempt', async (ctx, args) => {
    const { store, mail } = ctx.services;
    const id = optionalId(args, 'id');
    if (id !== undefined) {
      const m = await store.getMail(id);
      if (!m) throw new SiarError('NOT_FOUND', `No mail ${id}.`);
      if (m.sentAt) throw new SiarError('BAD_ARGUMENT', `Mail ${id} was already sent at ${m.sentAt}.`);
    }
    const count = await store.retryMail(id, new Date().toISOString());
    mail.kick();
    await store.audit({ kind: 'mail_retry', actorId: ctx.auth.user.id, subject: id === undefined ? 'all' : String(id), address: ctx.conn.remoteAddress, detail: { count } });
    return { count, id: id ?? undefined };
  }),

  authed(
    'AUDIT',
    'admin',
    'AUDIT [kind=] [member=USER] [actor=USER] [subject=] [since=TIME] [until=TIME] [limit=] [before=ID] — the audit log, newest first',
    async (ctx, args) => {
      const { store, config } = ctx.services;
      const filter: Parameters<typeof store.listAudit>[0] = {};
      const kind = args.get('kind')?.trim();
      if (kind) filter.kind = kind;
      const subject = args.get('subject')?.trim();
      if (subject) filter.subject = subject;
      if (args.get('actor')) {
        const actor = await store.getUserByUsername(requireUsername(args, 'actor'));
        if (!actor) throw new SiarError('NOT_FOUND', `No user named ${args.get('actor')}.`);
        filter.actorId = actor.id;
      }
      if (args.get('member')) {
        const username = requireUsername(args, 'member');
        const user = await store.getUserByUsername(username);
        filter.involving = { username, userId: user?.id ?? null };
      }
      if (args.get('since')) filter.sinceIso = parseTime(args.get('since')!, 'since');
      if (args.get('until')) filter.untilIso = parseTime(args.get('until')!, 'until');
      const events = await store.listAudit(filter, pageFrom(args, config.maxPageSize, 100));
      const names = new Map<number, string>();
      for (const e of events) {
        let actor = '';
        if (e.actorId !== null) {
          actor = names.get(e.actorId) ?? (await store.getUserById(e.actorId))?.username ?? `#${e.actorId}`;
          names.set(e.actorId, actor);
        }
        ctx.item({ id: e.id, at: e.at, kind: e.kind, actor, subject: e.subject ?? '', address: e.address ?? '', detail: JSON.stringify(e.detail) });
      }
      return { count: events.length };
    },
  ),

  authed('BACKUP', 'admin', 'BACKUP [attachments=list|copy] [wait=1] — online backup to <data>/backups/; BACKUP pushes report progress', async (ctx, args) => {
    const { backups, router, store, log } = ctx.services;
    const mode = (args.get('attachments') ?? 'list') as AttachmentMode;
    if (!ATTACHMENT_MODES.includes(mode)) throw new SiarError('BAD_ARGUMENT', 'attachments must be list or copy.');
    // A store without file copies (PostgreSQL) says what to run instead.
    if (!store.backup) throw new SiarError('NOT_SUPPORTED', store.backupAdvice);
    const admin = ctx.auth.user;
    const address = ctx.conn.remoteAddress;
    let job: BackupJob;
    try {
      job = backups.start({ attachments: mode, by: admin.username }, (j) => {
        router.pushToAdmins('BACKUP', backupArgs(j));
      });
    } catch (err) {
      if (err instanceof BackupBusyError) throw new SiarError('TOO_MANY_REQUESTS', `The backup ${err.running.name} is still running; wait for it.`);
      throw err;
    }
    const audited = job.done.then(
      (m) => store.audit({ kind: 'backup_created', actorId: admin.id, subject: m.name, address, detail: { bytes: m.bytes, messages: m.report.messages, attachments: m.attachments.count, mode } }),
      (err: unknown) => store.audit({ kind: 'backup_failed', actorId: admin.id, subject: job.name, address, detail: { error: err instanceof Error ? err.message : String(err) } }),
    ).catch((err: unknown) => log.error({ err }, 'could not audit a backup'));
    if (!flag(args, 'wait')) return backupArgs(job);
    try {
      await job.done;
    } catch {
      // reported below with the job's error
    }
    await audited;
    if (job.status === 'failed') throw new SiarError('INTERNAL', `The backup failed: ${job.error ?? 'unknown error'}.`);
    return backupArgs(job);
  }),

  authed('BACKUPS', 'admin', 'BACKUPS — past backups in <data>/backups/, newest first (and the one running)', async (ctx) => {
    const { backups } = ctx.services;
    const list = await backups.list();
    for (const b of list) {
      ctx.item({
        name: b.name, file: b.file, createdAt: b.createdAt, bytes: b.bytes, messages: b.messages ?? undefined,
        members: b.members ?? undefined, attachments: b.attachments ?? undefined, attachmentMode: b.attachmentMode ?? undefined,
        integrity: b.integrity ?? undefined,
      });
    }
    const running = backups.running;
    return { count: list.length, dir: backups.dir, running: running?.name ?? undefined, percent: running ? backupArgs(running).percent : undefined };
  }),

  authed('RESETPASSWORD', 'admin', 'RESETPASSWORD username= — mails a new password (to change at next login) and closes the member\'s sessions', async (ctx, args) => {
    const { store, mail, router } = ctx.services;
    const member = await memberByName(ctx, requireUsername(args));
    const password = generatePassword();
    const m = passwordResetMail({ institution: member.institution, contact: member.contact, username: member.username, password });
    const result = await store.resetPassword({
      userId: member.id,
      adminId: ctx.auth.user.id,
      passwordHash: await hashPassword(password),
      address: ctx.conn.remoteAddress,
      mail: { kind: 'password_reset', to: member.email, subject: m.subject, sealedText: mail.seal(m.text) },
    });
    mail.kick();
    const connections = await router.disconnectUser(member.id, 'SESSION_CLOSED', 'Your password was reset by the administrator; log in with the new one from the e-mail.');
    ctx.log.info({ username: member.username, mailId: result.mailId, connections }, 'password reset');
    router.memberChanged(member.id, 'password_reset');
    return { username: member.username, email: member.email, mailId: result.mailId, sessions: result.sessions, connections };
  }),

  authed('EXPIRY', 'admin', 'EXPIRY [days=N] [run=1] — shows or sets (until restart) the days after which pending requests expire; run=1 expires them now', async (ctx, args) => {
    const { config, store } = ctx.services;
    const days = nonNegativeNumber(args, 'days');
    if (days !== undefined && days !== config.registrationExpiryDays) {
      const before = config.registrationExpiryDays;
      config.registrationExpiryDays = days;
      await store.audit({ kind: 'expiry_changed', actorId: ctx.auth.user.id, subject: String(days), address: ctx.conn.remoteAddress, detail: { before, days } });
    }
    let expired = 0;
    if (flag(args, 'run')) {
      if (!(config.registrationExpiryDays > 0)) throw new SiarError('BAD_ARGUMENT', 'Expiry is off (days=0); give days=N to expire older requests.');
      expired = await expireRegistrations(ctx.services, ctx.auth.user.id);
    }
    const pending = await store.listRegistrations('pending', { limit: 1 });
    const oldest = pending[0];
    return {
      days: config.registrationExpiryDays, expired,
      oldestPending: oldest ? toRegistrationRecord(oldest).createdAt : undefined,
    };
  }),
];

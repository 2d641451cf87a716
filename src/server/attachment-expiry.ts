/**
 * Expired attachments removed after a grace period (issue 21 item 4; `--expired-attachment-grace`,
 * docs/PROTOCOL-admin.md §Expired attachments). A message sent with `expires=` stops popping up at
 * its expiry; its attachments stay downloadable for the grace period, and then this sweep lets
 * their content go: each tick the store claims a bounded batch of such messages in one transaction
 * (claimExpiredAttachments: marked swept, their attachments marked removed and out of the sender's
 * storage usage), then each content nothing else refers to any more is released through the
 * content port (files or PostgreSQL chunks). Downloads of a removed attachment answer
 * ATTACHMENT_REMOVED. The sweep writes one `attachments_removed` audit row per batch that removed
 * something, and counts the bytes freed for STATS.
 *
 * On several nodes every node sweeps: the claim is atomic (a message is claimed by one sweep only),
 * and a content shared by two attachments is released by whichever release finds it unreferenced.
 * A crash between the claim and the release leaves content nothing refers to: the content port's
 * orphan sweep at start removes it (not counted as freed).
 */
import type { Logger } from 'pino';
import type { AttachmentContent } from '../core/ports/content.js';
import type { ExpiredAttachment, Store } from '../core/ports/store.js';
import type { TrafficStats } from './stats.js';

/** Messages one tick claims at most; any more wait for the next tick. */
export const SWEEP_BATCH = 200;

export interface AttachmentExpiryDeps {
  store: Store;
  content: AttachmentContent;
  stats: Pick<TrafficStats, 'attachmentsFreed'>;
  log: Logger;
  /** The grace after expiry, ms (read at every tick); 0: expired attachments are kept. */
  graceMs: () => number;
  now?: () => number;
}

/** What one tick did. */
export interface SweepOutcome {
  /** Messages claimed (swept), with or without attachments. */
  messages: number;
  /** Attachments marked removed. */
  attachments: number;
  /** Contents (files, or PostgreSQL blobs) removed, and their bytes. */
  files: number;
  bytes: number;
  /** Contents whose release failed (left for the orphan sweep at the next start). */
  failed: number;
}

export class AttachmentExpirySweep {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<SweepOutcome | null> | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: AttachmentExpiryDeps, private readonly opts: { intervalMs: number; batch?: number }) {
    this.now = deps.now ?? Date.now;
  }

  /** Sweeps now, then every interval (the timer does not keep the process alive). */
  start(): void {
    if (this.timer) return;
    const tick = (): void => {
      this.sweep().catch((err: unknown) => this.deps.log.error({ err }, 'the expired-attachment sweep failed; it runs again at the next interval'));
    };
    tick();
    this.timer = setInterval(tick, this.opts.intervalMs);
    this.timer.unref();
  }

  /** Stops the timer and waits for a tick under way (before the store closes). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One tick; a tick still running is joined rather than overlapped. Null when the grace is off. */
  sweep(): Promise<SweepOutcome | null> {
    this.running ??= this.once().finally(() => { this.running = null; });
    return this.running;
  }

  private async once(): Promise<SweepOutcome | null> {
    const { store, content, stats, log } = this.deps;
    const graceMs = this.deps.graceMs();
    if (!(graceMs > 0)) return null;
    const nowMs = this.now();
    const expiredBeforeIso = new Date(nowMs - graceMs).toISOString();
    const claimed = await store.claimExpiredAttachments({ expiredBeforeIso, nowIso: new Date(nowMs).toISOString(), limit: this.opts.batch ?? SWEEP_BATCH });
    const outcome: SweepOutcome = { messages: claimed.messages, attachments: claimed.attachments.length, files: 0, bytes: 0, failed: 0 };
    if (claimed.attachments.length === 0) return outcome;
    for (const [sha256, size] of contentsOf(claimed.attachments)) {
      try {
        if (await content.release(sha256, (h) => store.isContentReferenced(h))) {
          outcome.files++;
          outcome.bytes += size;
        }
      } catch (err) {
        outcome.failed++;
        log.warn({ err, sha256 }, 'could not remove an expired attachment\'s content; the orphan sweep at the next start removes it');
      }
    }
    stats.attachmentsFreed(outcome.bytes);
    await store.audit({
      kind: 'attachments_removed', actorId: null, subject: String(outcome.attachments), address: null,
      detail: {
        messages: outcome.messages, attachments: outcome.attachments, files: outcome.files, bytes: outcome.bytes,
        ...(outcome.failed > 0 ? { failed: outcome.failed } : {}),
        graceSeconds: Math.round(graceMs / 1000), expiredBefore: expiredBeforeIso,
        messageIds: [...new Set(claimed.attachments.map((a) => a.messageId))].slice(0, 50),
      },
    });
    log.info({ ...outcome, graceMs }, 'expired attachments removed');
    return outcome;
  }
}

/** Each distinct content (sha256) of the attachments, with its size. */
function contentsOf(attachments: readonly ExpiredAttachment[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const a of attachments) out.set(a.sha256, a.size);
  return out;
}

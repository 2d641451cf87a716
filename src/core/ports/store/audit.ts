/**
 * The audit log: who did what, when, from where.
 */
import type { Page } from './page.js';

export interface AuditEvent {
  kind: string;
  actorId?: number | null;
  subject?: string | null;
  address?: string | null;
  detail?: Record<string, unknown>;
}

export interface AuditRecord extends Required<Omit<AuditEvent, 'detail'>> {
  id: number;
  at: string;
  detail: Record<string, unknown>;
}

/** Which audit events to list; every given filter must match. */
export interface AuditFilter {
  kind?: string;
  subject?: string;
  actorId?: number;
  /** Events about this member or done by it: subject = username, or actor = id. */
  involving?: { username: string; userId: number | null };
  /** ISO 8601, inclusive. */
  sinceIso?: string;
  /** ISO 8601, exclusive. */
  untilIso?: string;
}

/** The audit log. */
export interface AuditStore {
  // audit
  audit(event: AuditEvent): Promise<void>;
  listAudit(filter: AuditFilter, page: Page): Promise<AuditRecord[]>;
}

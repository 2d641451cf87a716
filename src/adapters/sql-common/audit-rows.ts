/**
 * The audit log (src/core/ports/store/audit.ts) as both SQL stores read it: an audit_events row
 * and its record (the detail column, JSON text, read back as an object).
 */
import type { AuditRecord } from '../../core/ports/store.js';

export interface AuditRow {
  id: number;
  at: string;
  kind: string;
  actor_id: number | null;
  subject: string | null;
  address: string | null;
  detail: string | null;
}

export function toAudit(r: AuditRow): AuditRecord {
  return {
    id: r.id,
    at: r.at,
    kind: r.kind,
    actorId: r.actor_id,
    subject: r.subject,
    address: r.address,
    detail: parseDetail(r.detail),
  };
}

/** Detail is written by us as a JSON object; anything else (hand edits, NULL) reads as {}. */
function parseDetail(text: string | null): Record<string, unknown> {
  if (text === null || text === '') return {};
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

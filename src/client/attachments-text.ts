import type { MessageRecord } from '../protocol/index.js';

/**
 * A message's attachments in a list row, the same in the CLI and the TUI: `+N`, and how many the
 * server removed (issue 21: expired longer ago than its --expired-attachment-grace) — `+N removed`
 * when all, `+N (K removed)` when some; empty without attachments.
 */
export function attachmentsText(m: Pick<MessageRecord, 'attachments'>): string {
  const n = m.attachments.length;
  if (n === 0) return '';
  const removed = m.attachments.filter((a) => a.removedAt).length;
  if (removed === 0) return `+${n}`;
  return removed === n ? `+${n} removed` : `+${n} (${removed} removed)`;
}

import type { MessageRecord } from '../protocol/index.js';

/**
 * How a message's audience reads for people, the same in the CLI and the TUI, in the inbox, the
 * outbox and an opened message: "all members" for a broadcast (`to=*` on the wire), the channel
 * (`#name`) for a channel message, otherwise its recipients.
 */
export function audienceText(m: Pick<MessageRecord, 'audience' | 'to' | 'via'>): string {
  if (m.audience === 'all' || m.to.includes('*')) return 'all members';
  if (m.audience === 'channel' && m.via) return m.via;
  return m.to.join(', ');
}

/**
 * The sender's short form (an outbox row): as audienceText, but recipients reached through groups
 * are summed up by those groups, beside the members named directly ("pnl, @ptn-sulawesi").
 */
export function addressingText(m: Pick<MessageRecord, 'audience' | 'to' | 'via' | 'recipients'>): string {
  if (m.audience !== 'list' || !m.via || !m.recipients) return audienceText(m);
  const named = m.recipients.filter((r) => !r.via).map((r) => r.username);
  return [...named, m.via].join(', ');
}

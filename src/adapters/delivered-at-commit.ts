/**
 * The deliveredAtCommit capability (src/core/ports/store/delivered-at-commit.ts) as the SQLite and
 * PostgreSQL stores give it: a writer that hands the store's own storeMessage and
 * storeAlertedMessage the message with `pushedAfterCommit`, a field only these adapters read.
 */
import type { MessageWriter, NewMessage } from '../core/ports/store.js';

/** A message as a store with the capability reads it: who is recorded delivered at the commit. */
export type PushedMessage = NewMessage & { pushedAfterCommit?: (recipientId: number) => boolean };

export function deliveredAtCommitWriter(store: MessageWriter, pushed: (recipientId: number) => boolean): MessageWriter {
  const withPushed = (m: NewMessage): PushedMessage => ({ ...m, pushedAfterCommit: pushed });
  return {
    storeMessage: (m, limits) => store.storeMessage(withPushed(m), limits),
    storeAlertedMessage: (m, alert, limits) => store.storeAlertedMessage(withPushed(m), alert, limits),
  };
}

/**
 * Due jobs (issue 21): what the store keeps so that scheduled deliveries and automatic reminders
 * happen at their time, across restarts, and once per cluster however many nodes run. A node
 * claims due jobs atomically (each one's due time moves to the end of a lease and the node's name
 * is written as its owner, in one statement), then finishes each with a call that checks it is
 * still the owner; a node that dies holding a job leaves it to be claimed again when the lease
 * ends. The runner is src/core/due-jobs.ts.
 */
import type { Message } from './messages.js';
import type { RecallOutcome } from './alerts.js';

export type DueJobKind = 'deliver' | 'remind';

export interface DueJob {
  kind: DueJobKind;
  messageId: number;
}

export interface DueJobClaim {
  /** ISO 8601 UTC: jobs due at or before it are claimed. */
  now: string;
  /** Who claims (one name per runner: node and process). */
  owner: string;
  /** ISO 8601 UTC: until when the claim holds; a job not finished by then may be claimed again. */
  leaseUntil: string;
  /** At most this many jobs in all. */
  limit: number;
}

/** A scheduled message that went out (releaseScheduled). */
export interface ReleasedMessage {
  message: Message;
  /** The recall of the message it corrects, made in the release's transaction; null when none. */
  replaced: RecallOutcome | null;
}

export interface DueJobStore {
  /** Claims due jobs, deliveries first, atomically: two claimers never get the same job while a lease holds. */
  claimDueJobs(claim: DueJobClaim): Promise<DueJob[]>;
  /**
   * Claimed scheduled messages go out, all in one transaction (a tick's batch: one commit for them all):
   * each one's recipients get their rows (undelivered), its time sent becomes `at`, and its automatic
   * reminders (if any) start one period later. A correction (SEND replaces= with at=) recalls the
   * message it replaces in the same transaction, as recallMessage does (`replaced`; null when it had
   * none, or the message is gone). Returns the messages released, by id; one `owner` does not hold any
   * more (recalled, or claimed by another after the lease ended) is left out, and nothing of it changes.
   */
  releaseScheduled(messageIds: readonly number[], owner: string, at: string): Promise<ReleasedMessage[]>;
  /** Ends a message's automatic reminders (all acknowledged, expired, recalled, or the count reached), when `owner` holds the job. */
  finishReminders(messageId: number, owner: string): Promise<void>;
}

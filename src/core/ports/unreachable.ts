/**
 * What a port the nodes of a cluster share (bus, presence, login throttle, sending rate, traffic
 * counters, leases: Redis, `--bus`) throws when the engine behind it cannot be reached now. Nothing
 * waits for such an engine without bound (src/adapters/redis/connection.ts: no offline queue, a
 * timeout per command), so each caller does its documented degraded thing at once; what reaches a
 * client unhandled is BUSY with a sentence (core/wire-errors.ts).
 */
export class BusUnreachable extends Error {
  override readonly name = 'BusUnreachable';
  /** What was done instead, for the log line (e.g. "a send went through uncounted"). */
  readonly meaning: string | undefined;

  constructor(message: string, options: { cause?: unknown; meaning?: string } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.meaning = options.meaning;
  }

  /** The same failure, saying what was done instead. */
  withMeaning(meaning: string): BusUnreachable {
    return new BusUnreachable(this.message, { cause: this.cause, meaning });
  }
}

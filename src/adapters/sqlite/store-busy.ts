/**
 * The store could not do the work now, though nothing is wrong with the request: a lock it waited
 * for stayed taken too long, two transactions deadlocked, or the database server could not be
 * reached. Nothing was changed (except when the connection broke during a COMMIT, when the outcome
 * is unknown: `reason` 'unavailable'), so the client may retry. The dispatcher answers it as it
 * answers SQLite's SQLITE_BUSY: `ERR|BUSY` rather than INTERNAL (`err instanceof StoreBusy`).
 */
export class StoreBusy extends Error {
  constructor(
    /** 'contention': a lock wait timed out, a deadlock or a serialization failure; 'unavailable': the server could not be reached or went away. */
    readonly reason: 'contention' | 'unavailable',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StoreBusy';
  }
}

/**
 * Shares the event loop between connections that have more frames to run than one turn allows (a
 * peer that pipelines requests). A connection with a new request runs its first turn at once; for
 * each further turn it waits in line. Each pass of the event loop serves the line in order until a
 * time budget is spent; the rest keep their places for the next pass. So the loop comes back to
 * reading sockets — and a client's new request is answered — within about the budget, however many
 * peers flood the server, and the flooders share what is left in turn.
 */
export const PASS_BUDGET_MS = 5;

export class TurnQueue {
  private readonly line: Array<() => void> = [];
  private passStarted = 0;
  /** A mark queued to start the next pass's clock before its first step. */
  private markQueued = false;

  constructor(private readonly budgetMs = PASS_BUDGET_MS) {}

  /** Resolves at this connection's next turn. */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.line.push(resolve);
      this.schedule();
    });
  }

  /** Connections waiting for a turn. */
  get length(): number {
    return this.line.length;
  }

  /**
   * One step per connection in line, each its own setImmediate callback: Node runs the microtasks
   * after each, so the turn a step resumes has run (up to its first real I/O) before the next step
   * looks at the clock.
   */
  private schedule(): void {
    if (!this.markQueued) {
      this.markQueued = true;
      setImmediate(this.mark);
    }
    setImmediate(this.step);
  }

  private readonly mark = (): void => {
    this.markQueued = false;
    this.passStarted = performance.now();
  };

  private readonly step = (): void => {
    if (performance.now() - this.passStarted > this.budgetMs) {
      this.schedule(); // the head keeps its place: it goes first in the next pass
      return;
    }
    this.line.shift()?.();
  };
}

/**
 * Runs a loader for the most recently asked key only, one run at a time: moving the selection
 * down a long list asks for many detail panels, but only the last one is fetched once the
 * current fetch ends, and a stale answer is never drawn over a newer one.
 */
export class Latest {
  private running = false;
  private wanted: string | null = null;
  private asked = 0;

  constructor(private readonly load: (key: string, isCurrent: () => boolean) => Promise<void>) {}

  /** The key whose result should be on screen. */
  get current(): string | null {
    return this.wanted;
  }

  /** Asks for `key` (again: asking for the same key reloads it); null shows nothing. */
  ask(key: string | null): Promise<void> {
    this.wanted = key;
    this.asked++;
    return this.pump();
  }

  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      let served = -1;
      while (served !== this.asked) {
        served = this.asked;
        const key = this.wanted;
        if (key === null) continue;
        const generation = served;
        try {
          await this.load(key, () => this.asked === generation);
        } catch {
          // the loader reports its own failures; keep serving newer keys
        }
      }
    } finally {
      this.running = false;
    }
  }
}

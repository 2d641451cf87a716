/**
 * Counts in sentences people read (CLI, TUI, console): the noun and the verb agree with the
 * number — "1 recipient has not acknowledged", "2 recipients have not" — never "1 have not".
 */

/** `1 recipient`, `2 recipients` (`plural` for irregular nouns: `1 address`, `2 addresses`). */
export function count(n: number, singular: string, plural = `${singular}s`): string {
  return `${n} ${n === 1 ? singular : plural}`;
}

/** The form of a verb that agrees with a count: `agree(n, 'has', 'have')`. */
export function agree(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}

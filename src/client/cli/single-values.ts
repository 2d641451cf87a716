/**
 * yargs turns an option given twice into an array, which a command expecting one value misreads
 * (`siar send --to a --to b` once died with "opts.to.split is not a function"). Options declared
 * `array: true` may repeat; any other given twice counts once when the values agree and is refused
 * with a sentence when they differ.
 */
import { CliError } from './common.js';

const dashed = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Checks (and collapses) the parsed options in place; `arrays` are the options declared repeatable. */
export function singleValues(argv: Record<string, unknown>, arrays: readonly string[]): void {
  for (const [key, value] of Object.entries(argv)) {
    if (key === '_' || key === '$0' || !Array.isArray(value)) continue;
    if (arrays.includes(key) || arrays.includes(dashed(key))) continue;
    if (new Set(value.map(String)).size > 1) {
      throw new CliError(`--${dashed(key)} is given ${value.length} times with different values; give it once.`);
    }
    argv[key] = value[0];
  }
}

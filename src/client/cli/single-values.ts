/**
 * yargs turns an option given twice into an array, which a command expecting one value misreads
 * (`siar send --to a --to b` once died with "opts.to.split is not a function"). Options declared
 * `array: true` may repeat; any other given twice counts once when the values agree and is refused
 * with a sentence when they differ.
 */
import { CliError } from './common.js';

/** What yargs knows of the command being parsed: every declared option, and the repeatable ones. */
export interface DeclaredOptions {
  key: Record<string, unknown>;
  array: readonly string[];
}

const dashed = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** Checks (and collapses) the parsed options in place. Undeclared keys are left to yargs's strict mode. */
export function singleValues(argv: Record<string, unknown>, declared: DeclaredOptions): void {
  for (const [key, value] of Object.entries(argv)) {
    if (!Array.isArray(value)) continue;
    const name = key in declared.key ? key : dashed(key) in declared.key ? dashed(key) : undefined;
    if (name === undefined || declared.array.includes(name)) continue;
    if (new Set(value.map(String)).size > 1) {
      throw new CliError(`--${name} is given ${value.length} times with different values; give it once.`);
    }
    argv[key] = value[0];
  }
}

import type { ScenarioResult } from './report.js';

export interface RunContext {
  /** When set (`--profile`), every server started gets `--cpu-prof` into this directory. */
  profileDir?: string;
}

export interface Scenario {
  /** Name on the command line: `npm run bench -- NAME`. */
  name: string;
  /** Issue 8's number. */
  number: number;
  title: string;
  run(ctx: RunContext): Promise<ScenarioResult>;
}

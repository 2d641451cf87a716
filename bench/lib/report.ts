/** Writes a scenario's Markdown table and JSON under bench/results/, marked with scale and machine. */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RESULTS_DIR, SCALE, machineInfo, progress, type MachineInfo } from './env.js';
import { fmt } from './stats.js';

export interface ScenarioResult {
  scenario: string;
  title: string;
  /** Markdown body (tables, notes); the header with machine and scale is added here. */
  markdown: string;
  data: unknown;
  /** Extra files (e.g. SVG) written beside: name → content. */
  files?: Record<string, string>;
  /** Targets missed or failures, for the run summary. */
  problems?: string[];
}

/** `qos` → qos.md / qos.json at full scale, qos.small.md / qos.small.json at small scale. */
export function resultName(scenario: string, ext: string): string {
  return SCALE === 'small' ? `${scenario}.small.${ext}` : `${scenario}.${ext}`;
}

export function machineLine(m: MachineInfo): string {
  return `${m.cores} × ${m.cpu}, ${m.memoryGiB} GiB RAM, ${m.kernel}, Node ${m.node}, open files ${m.openFilesLimit}, ` +
    `load average at start ${m.loadAverageAtStart.join(' / ')}${quietText(m)}, git ${m.gitCommit}${m.worktreeDirty ? ' + uncommitted src changes' : ''}`;
}

function quietText(m: MachineInfo): string {
  const q = m.quietBeforeStart;
  if (!q) return '';
  return `, CPU ${fmt(q.cpuBusyPercent, 0)} % busy (all cores, every process) just before the start` +
    (q.settled ? (q.waitedSeconds > 2 ? ` after ${q.waitedSeconds} s of settling` : '') : ` — still busy after ${q.waitedSeconds} s of waiting`);
}

/** Writes a scenario's files; `machine` is as it was when the scenario started. */
export function writeResult(result: ScenarioResult, machine: MachineInfo = machineInfo()): string[] {
  mkdirSync(RESULTS_DIR, { recursive: true });
  const banner = SCALE === 'small'
    ? '> **SMALL SCALE, MACHINE SHARED.** Validation run with reduced N and sizes while other work competed for the ' +
      'two cores. These figures check that the harness works; they are not the figures to quote. Run ' +
      '`npm run bench` (full scale) on a quiet machine for those.\n\n'
    : '';
  // A full-scale run on a machine others are using says so: the figures carry that load. The CPU
  // measured just before the start decides when there is one (the 1-minute load average still
  // carries the previous scenario for a minute or two after it ended).
  const load = machine.loadAverageAtStart[0] ?? 0;
  const quiet = machine.quietBeforeStart;
  const measured = quiet !== null && Number.isFinite(quiet.cpuBusyPercent);
  const busyAtStart = measured ? !quiet.settled : load >= 1.5;
  const shared = SCALE === 'full' && busyAtStart
    ? `> **FULL SCALE, MACHINE SHARED.** ${measured ? `Other work kept the CPU ${fmt(quiet.cpuBusyPercent, 0)} % busy (of both cores) when the run started` : `The load average was ${load.toFixed(2)} when the run started (2 cores)`}: ` +
      'other work competed with the server and the harness, so latencies are higher and rates lower than on a quiet machine.\n\n'
    : '';
  const cheap = process.env.BENCH_CHEAP_HASH === '1'
    ? '> **BENCH_CHEAP_HASH=1**: members were seeded with a cheap scrypt cost (N=1024) to validate the harness quickly; login rates here are not siar\'s.\n\n'
    : '';
  const other = process.env.BENCH_SERVER_ROOT
    ? `> **Server from another checkout**: BENCH_SERVER_ROOT=${process.env.BENCH_SERVER_ROOT}${process.env.BENCH_SERVER_COMMIT ? ` (a clean copy of commit ${process.env.BENCH_SERVER_COMMIT})` : ''}.\n\n`
    : '';
  const md = `# ${result.title}\n\n${banner}${shared}${cheap}${other}- Scale: **${SCALE}**\n- Machine: ${machineLine(machine)}\n- Run at: ${machine.date}\n\n${result.markdown.trim()}\n`;
  const written: string[] = [];
  const mdFile = path.join(RESULTS_DIR, resultName(result.scenario, 'md'));
  writeFileSync(mdFile, md);
  written.push(mdFile);
  const jsonFile = path.join(RESULTS_DIR, resultName(result.scenario, 'json'));
  writeFileSync(jsonFile, JSON.stringify({ scenario: result.scenario, title: result.title, machine, cheapHash: process.env.BENCH_CHEAP_HASH === '1', serverRoot: process.env.BENCH_SERVER_ROOT ?? null, serverCommit: process.env.BENCH_SERVER_COMMIT ?? null, data: result.data, problems: result.problems ?? [] }, null, 2) + '\n');
  written.push(jsonFile);
  for (const [name, content] of Object.entries(result.files ?? {})) {
    const ext = path.extname(name).slice(1);
    const file = path.join(RESULTS_DIR, resultName(path.basename(name, `.${ext}`), ext));
    writeFileSync(file, content);
    written.push(file);
  }
  for (const f of written) progress(result.scenario, `wrote ${path.relative(process.cwd(), f)}`);
  return written;
}

/** A Markdown table from a header row and rows of cells. */
export function table(header: string[], rows: (string | number)[][], align?: ('l' | 'r')[]): string {
  const sep = header.map((_, i) => ((align?.[i] ?? (i === 0 ? 'l' : 'r')) === 'r' ? '---:' : '---'));
  const line = (cells: (string | number)[]) => `| ${cells.map((c) => String(c).replace(/\|/g, '\\|')).join(' | ')} |`;
  return [line(header), `| ${sep.join(' | ')} |`, ...rows.map(line)].join('\n');
}

export function kib(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(2)} GiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} MiB`;
  return `${Math.round(n)} KiB`;
}

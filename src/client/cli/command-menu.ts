/**
 * What `siar`, `siar admin` and `siar admin channel|group` say when no command or an unknown one is
 * given: the commands, one line each, and the nearest one to what was typed.
 */
import type { Argv, CommandModule } from 'yargs';
import { CliError } from './common.js';

type Command = CommandModule<object, any>;

function nameOf(c: Command): string {
  const spec = Array.isArray(c.command) ? c.command[0] : c.command;
  return String(spec ?? '').split(' ')[0]!;
}

function namesOf(c: Command): string[] {
  const aliases = c.aliases === undefined ? [] : Array.isArray(c.aliases) ? c.aliases : [c.aliases];
  return [nameOf(c), ...aliases];
}

/** Edits (insert, delete, replace, swap two neighbours) from `a` to `b`. */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The command `typed` most likely meant: one it begins, else the closest within a few edits. */
export function nearestCommand(typed: string, names: string[]): string | undefined {
  const t = typed.toLowerCase();
  const starts = names.filter((n) => t.length >= 2 && n.startsWith(t));
  if (starts.length === 1) return starts[0];
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(t.length / 2)) + 1;
  for (const n of names) {
    const distance = editDistance(t, n);
    if (distance < bestDistance) {
      best = n;
      bestDistance = distance;
    }
  }
  return best;
}

/**
 * The error for `PREFIX` given no command (`typed` undefined) or an unknown one: a one-line reason
 * with the nearest command, and the command list as its details.
 */
export function commandMenu(prefix: string, commands: Command[], typed?: string): CliError {
  const shown = commands.filter((c) => c.describe !== false);
  const width = Math.max(...shown.map((c) => nameOf(c).length));
  const columns = process.stderr.isTTY ? process.stderr.columns || 80 : Infinity;
  const lines = shown.map((c) => fit(`  ${prefix} ${nameOf(c).padEnd(width)}  ${String(c.describe ?? '')}`, columns));
  const near = typed === undefined ? undefined : nearestCommand(typed, shown.flatMap(namesOf));
  const reason = typed === undefined
    ? `Name a command of ${prefix}:`
    : `"${typed}" is not a command of ${prefix}.${near ? ` Did you mean \`${prefix} ${near}\`?` : ''} The commands:`;
  return new CliError(reason, 1, [...lines, `\`${prefix} COMMAND --help\` shows a command's options.`].join('\n'));
}

function fit(line: string, columns: number): string {
  return line.length <= columns ? line : `${line.slice(0, Math.max(1, columns - 1))}…`;
}

/**
 * A command that only groups others (`siar admin`, `siar admin channel`). Its optional positionals
 * take what matched no subcommand, so the handler, reached only then, can show the menu.
 */
export function commandGroup(prefix: string, describe: string, subcommands: Command[]): Command {
  return {
    command: `${prefix.split(' ').at(-1)} [command] [args..]`,
    describe,
    builder: (y: Argv) => y.usage(`${prefix} <command> [options]\n\n${describe}`).command(subcommands),
    handler: (a) => { throw commandMenu(prefix, subcommands, a.command); },
  };
}

/**
 * yargs's own usage messages ("Not enough non-option arguments: got 0, need at least 1", "Invalid
 * values:\n  Argument: …") as sentences in siar's terms that say what to do. `command` is what was
 * typed before the options (`siar report`), `spec` the command's usage (`report <id>`); `typed`
 * the words given (to tell an unknown option from a stray argument).
 */
export function usageSentence(msg: string, command: string, spec: string | undefined, typed: readonly string[]): string {
  const help = `${command} --help`;
  const flag = (name: string) => `--${name}`;
  let m: RegExpExecArray | null;
  if (/^Not enough non-option arguments/.test(msg)) {
    const wanted = (spec ?? '').split(' ').filter((w) => w.startsWith('<')).join(' ');
    return wanted ? `${command} needs its ${wanted}: ${command} ${wanted} (${help} shows the options).` : `${command} needs more arguments: ${help} shows them.`;
  }
  if ((m = /^Unknown arguments?: (.*)$/s.exec(msg))) {
    const names = m[1]!.split(', ').map((n) => (typed.some((w) => w === `--${n}` || w.startsWith(`--${n}=`) || w === `-${n}`) ? flag(n) : `"${n}"`));
    return `${names.join(', ')} ${names.length === 1 ? 'is not an option' : 'are not options'} of ${command}; ${help} lists them.`;
  }
  if ((m = /^Invalid values:\s*Argument: (\S+), Given: (.*), Choices: (.*)$/s.exec(msg))) {
    return `${flag(m[1]!)} must be one of ${m[3]!.replace(/"/g, '')}, not ${m[2]}.`;
  }
  if ((m = /^Not enough arguments following: (\S+)$/.exec(msg))) return `${flag(m[1]!)} needs a value.`;
  if ((m = /^Missing required arguments?: (.*)$/s.exec(msg))) {
    const names = m[1]!.split(', ').map(flag);
    return `${names.join(' and ')} ${names.length === 1 ? 'is' : 'are'} required.`;
  }
  return msg;
}

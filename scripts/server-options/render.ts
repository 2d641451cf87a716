/**
 * What the option table (src/server/options.ts) is written out as: the example config file
 * contrib/server.yml and the reference docs/SERVER-OPTIONS.md. test/docs/server-options.test.ts
 * checks both are what this renders today.
 */
import { formatValue, parseValue, placeholder } from '../../src/server/option-kinds.js';
import { SERVER_OPTIONS, envName, type OptionSpec } from '../../src/server/options.js';
import { yamlValue } from '../../src/client/cli/server-settings-text.js';

export const EXAMPLE_FILE = 'contrib/server.yml';
export const REFERENCE_FILE = 'docs/SERVER-OPTIONS.md';
const REGENERATE = '`node --import tsx scripts/server-options.ts`';

/** The options by group, in the table's order. */
function groups(): Array<[group: string, options: OptionSpec[]]> {
  const out = new Map<string, OptionSpec[]>();
  for (const o of SERVER_OPTIONS) out.set(o.group, [...(out.get(o.group) ?? []), o]);
  return [...out].map(([g, os]) => [g.replace(/:$/, ''), os]);
}

function sentence(phrase: string): string {
  const s = phrase.charAt(0).toUpperCase() + phrase.slice(1);
  return /[.?!]$/.test(s) ? s : `${s}.`;
}

/** What values the option takes, for people: `at least 1`, `0 to 65535`, `NORMAL or FULL`. */
export function allowedValues(spec: OptionSpec): string {
  const bound = (n: number) => String(formatValue(spec, n));
  switch (spec.kind) {
    case 'integer':
    case 'size':
    case 'duration': {
      const range = spec.max === undefined ? `at least ${bound(spec.min)}` : `${bound(spec.min)} to ${bound(spec.max)}`;
      return spec.zero === undefined ? range : `${range}, or 0: ${spec.zero}`;
    }
    case 'enum': return `${spec.choices.slice(0, -1).join(', ')} or ${spec.choices.at(-1)}`;
    case 'host': return 'a host name or IP address';
    case 'url': return `a URL starting ${spec.schemes.map((s) => `${s}//`).join(' or ')}`;
    case 'store': return 'a file path (sqlite:PATH or PATH) or a URL starting postgres://';
    case 'port-range': return 'a port or a range of ports, FROM-TO';
    case 'string': return spec.pattern?.says ?? 'text';
    case 'path': return 'a path';
  }
}

/** `# ` lines holding `text`, broken before 100 columns. */
function comment(text: string): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(' ')) {
    if (line.length + 1 + word.length > 100 && line !== '#') {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  return [...lines, line];
}

/** contrib/server.yml: every option, commented out at its default (or an example, if it has none). */
export function renderExample(): string {
  const out = [
    ...comment('siar server settings: `siar server --config /etc/siar/server.yml` reads this file (or SIAR_CONFIG=/etc/siar/server.yml).'),
    '#',
    ...comment('Each key is a `siar server` flag without its dashes, and an environment variable: SIAR_ and the key in capitals with underscores (max-connections: SIAR_MAX_CONNECTIONS). A flag wins over the environment, the environment over this file, this file over the default. `siar server --print-config` shows every value in effect and where it comes from; a key the server does not know, or a bad value, stops it with the line named.'),
    '#',
    ...comment('Sizes: 1048576 (bytes), 512K, 500MiB, 1GiB, 100MB (K, M, G are 1024s). Durations: 60 (seconds), 500ms, 30s, 10m, 24h, 7d. Relative paths are taken from the directory the server starts in. The file holds the SMTP password if you put it here: keep it private (chmod 600), or set SIAR_SMTP instead.'),
    '#',
    ...comment('Every setting is shown commented out, at its default: remove the # to change it.'),
    ...comment(`Generated from src/server/options.ts by ${REGENERATE}.`),
  ];
  for (const [group, options] of groups()) {
    out.push('', `## ${group}`);
    for (const o of options) {
      const notes = [sentence(o.describe)];
      if ('zero' in o && o.zero !== undefined) notes.push(`0: ${o.zero}.`);
      if (o.kind === 'enum') notes.push(`One of ${o.choices.join(', ')}.`);
      if (o.default === null) notes.push(`Not set by default: ${o.unset!.means}.`);
      const value = yamlValue(o, o.default ?? parseValue(o, o.unset!.example), false);
      out.push('', ...comment(notes.join(' ')), `#${o.name}: ${value}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/** Text in a table cell: a | would end the cell, a <data> would be taken for HTML. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/</g, '&lt;');
}

/** docs/SERVER-OPTIONS.md: one table per group. */
export function renderReference(): string {
  const out = [
    '# siar server options',
    '',
    `<!-- Generated from src/server/options.ts by ${REGENERATE}; test/docs/server-options.test.ts checks it is up to date. -->`,
    '',
    'Every limit and setting of `siar server` is an option with three names: a flag (`--max-connections 1000`),',
    'an environment variable (`SIAR_MAX_CONNECTIONS=1000`) and a key of the YAML file given with',
    '`--config FILE` or `SIAR_CONFIG=FILE` (`max-connections: 1000`). A flag wins over the environment,',
    'the environment over the file, the file over the default. Every value given is checked at start; a bad',
    'one stops the server with a sentence that names it and where it came from (`--port`, `SIAR_PORT`,',
    '`/etc/siar/server.yml:3`). `siar server --print-config` (`--json`) prints every value in effect and where',
    `it came from; [\`${EXAMPLE_FILE}\`](../${EXAMPLE_FILE}) is a config file with every option, commented out.`,
    '',
    'Sizes take `1048576` (bytes), `512K`, `500MiB`, `1GiB`, `100MB` (K, M and G alone are 1024s); durations',
    '`60` (seconds), `500ms`, `30s`, `10m`, `24h`, `7d`. What each limit does on the wire: docs/PROTOCOL.md',
    '§Limits and docs/PROTOCOL-transfer.md §Limits and timeouts.',
  ];
  for (const [group, options] of groups()) {
    out.push('', `## ${group}`, '', '| option | environment | default | values | meaning |', '| --- | --- | --- | --- | --- |');
    for (const o of options) {
      const byDefault = o.default === null ? `not set: ${o.unset!.means}` : `\`${String(formatValue(o, o.default))}\``;
      out.push(`| ${cell(`\`--${o.name} ${placeholder(o)}\``)} | \`${envName(o)}\` | ${cell(byDefault)} | ${cell(allowedValues(o))} | ${cell(o.describe)} |`);
    }
  }
  return `${out.join('\n')}\n`;
}

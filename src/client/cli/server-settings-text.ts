/**
 * `siar server --print-config`: every setting in effect and where it came from, as a config file
 * (YAML, each line commented with its source) that can be read back, or as JSON with --json.
 */
import { stringify } from 'yaml';
import { formatValue, maskSecretOf, type OptionValue } from '../../server/option-kinds.js';
import type { OptionSpec } from '../../server/options.js';
import { originLabel, type EffectiveSetting } from './server-settings.js';

/** A value as written in the config file (a secret masked unless `mask` is false), e.g. `64KiB`. */
export function yamlValue(spec: OptionSpec, value: OptionValue, mask = true): string {
  return stringify(mask ? shownValue(spec, value) : formatValue(spec, value), { lineWidth: 0 }).trimEnd();
}

/** The value as an operator writes it, a secret masked. */
function shownValue(spec: OptionSpec, value: OptionValue): string | number {
  const shown = formatValue(spec, value);
  return spec.secret && typeof shown === 'string' ? maskSecretOf(spec, shown) : shown;
}

export function printConfigText(settings: readonly EffectiveSetting[], configFile: string | undefined): string {
  const header = [
    '# siar server settings in effect, and where each comes from (a flag wins over the environment,',
    '# the environment over the config file, the file over the default). Secrets are shown as ***.',
    `# ${configFile ? `Config file: ${configFile}` : 'No config file (--config FILE or SIAR_CONFIG).'}`,
  ];
  const rows: Array<[line: string, comment: string] | string> = [];
  let group = '';
  for (const s of settings) {
    if (s.spec.group !== group) {
      group = s.spec.group;
      rows.push('', `# ${group.replace(/:$/, '')}`);
    }
    const source = originLabel(s.spec, s.origin);
    if (s.value === null) rows.push([`#${s.spec.name}:`, `not set: ${s.spec.unset!.means}`]);
    else rows.push([`${s.spec.name}: ${yamlValue(s.spec, s.value)}`, s.note ? `${source}: ${s.note}` : source]);
  }
  const width = Math.min(56, Math.max(...rows.map((r) => (typeof r === 'string' ? 0 : r[0].length))));
  const body = rows.map((r) => (typeof r === 'string' ? r : `${r[0].padEnd(width)}  # ${r[1]}`));
  return `${[...header, ...body].join('\n')}\n`;
}

/** One JSON object: the config file, and each setting's value (as in the file), source and origin. */
export function printConfigJson(settings: readonly EffectiveSetting[], configFile: string | undefined): object {
  return {
    configFile: configFile ?? null,
    settings: Object.fromEntries(settings.map((s) => [s.spec.name, {
      value: s.value === null ? null : shownValue(s.spec, s.value),
      source: s.origin.source,
      origin: originLabel(s.spec, s.origin),
      ...(s.note ? { note: s.note } : {}),
      ...(s.value === null ? { note: `not set: ${s.spec.unset!.means}` } : {}),
    }])),
  };
}

/**
 * The settings `siar server` runs with: each option of the table (server/options.ts) from its flag,
 * else its environment variable, else the config file, else its default. Every value given is
 * checked, wherever it comes from, before anything starts; a bad one is named with where it came
 * from (`--port`, `SIAR_PORT`, `/etc/siar/server.yml:3`).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ServerConfig } from '../../server/config.js';
import { adminReserve } from '../../server/admission.js';
import { planConnectionCap, readOpenFilesLimit } from '../../server/fd-limit.js';
import { parseValue, type OptionValue, type RawValue } from '../../server/option-kinds.js';
import { SERVER_OPTIONS, configFields, envName, type OptionSpec } from '../../server/options.js';
import { CliError } from './common.js';
import { readConfigFile } from './server-config-file.js';

export type Origin =
  | { source: 'flag' }
  | { source: 'env'; variable: string }
  | { source: 'file'; file: string; line: number }
  | { source: 'default' };

export interface Setting {
  spec: OptionSpec;
  /** null: not set (the option's default is to leave it unset). */
  value: OptionValue | null;
  origin: Origin;
}

export interface SettingSources {
  /** The parsed command line: option name → its text. */
  flags: Record<string, unknown>;
  env: Record<string, string | undefined>;
  /** --config FILE (else SIAR_CONFIG). */
  configFile?: string;
}

/** Every option's setting, in the table's order; throws a CliError naming each bad value. */
export function resolveSettings(sources: SettingSources): Setting[] {
  const problems: string[] = [];
  let fileSettings = new Map<string, { value: RawValue; line: number }>();
  if (sources.configFile) {
    const read = readConfigFileOrFail(sources.configFile);
    problems.push(...read.problems);
    fileSettings = new Map(read.settings.map((s) => [s.key, s]));
  }
  const settings = SERVER_OPTIONS.map((spec): Setting => {
    const given: Array<{ raw: RawValue; origin: Origin }> = [];
    const flag = sources.flags[spec.name];
    if (flag !== undefined) given.push({ raw: flag as RawValue, origin: { source: 'flag' } });
    const variable = envName(spec);
    const env = sources.env[variable];
    // An empty variable is unset, as in a systemd EnvironmentFile line `SIAR_SMTP=`.
    if (env !== undefined && env.trim() !== '') given.push({ raw: env, origin: { source: 'env', variable } });
    const inFile = fileSettings.get(spec.name);
    if (inFile) given.push({ raw: inFile.value, origin: { source: 'file', file: sources.configFile!, line: inFile.line } });
    // Each given value is checked, not only the one that wins: a bad line in the file is found
    // now, not at the first start without the flag that hides it.
    let chosen: Setting | null = null;
    for (const { raw, origin } of given) {
      try {
        const value = parseValue(spec, raw);
        chosen ??= { spec, value, origin };
      } catch (err) {
        problems.push(`${where(spec, origin)}: ${(err as Error).message}`);
      }
    }
    return chosen ?? { spec, value: spec.default, origin: { source: 'default' } };
  });
  problems.push(...pairProblems(settings));
  if (sources.configFile) problems.sort(byLineOf(sources.configFile));
  if (problems.length === 1) throw new CliError(problems[0]!);
  if (problems.length > 1) throw new CliError(`${problems.length} settings are not valid:`, 1, problems.map((p) => `  ${p}`).join('\n'));
  return settings;
}

/** The file's problems in the order of its lines, after the others. */
function byLineOf(file: string): (a: string, b: string) => number {
  const line = (p: string) => (p.startsWith(`${file}:`) ? Number(/^:(\d+)/.exec(p.slice(file.length))?.[1] ?? 0) : -1);
  return (a, b) => line(a) - line(b);
}

function readConfigFileOrFail(file: string) {
  try {
    return readConfigFile(file, SERVER_OPTIONS.map((o) => o.name));
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** Where a value came from, as a problem names it. */
export function where(spec: Pick<OptionSpec, 'name'>, origin: Origin): string {
  switch (origin.source) {
    case 'flag': return `--${spec.name}`;
    case 'env': return `${origin.variable} (environment)`;
    case 'file': return `${origin.file}:${origin.line}: ${spec.name}`;
    case 'default': return `the default ${spec.name}`;
  }
}

/** Where a value came from, as --print-config shows it. */
export function originLabel(spec: Pick<OptionSpec, 'name'>, origin: Origin): string {
  switch (origin.source) {
    case 'flag': return `--${spec.name}`;
    case 'env': return origin.variable;
    case 'file': return `${origin.file}:${origin.line}`;
    case 'default': return 'default';
  }
}

export function settingOf(settings: readonly Setting[], name: string): Setting {
  const found = settings.find((s) => s.spec.name === name);
  if (!found) throw new Error(`no server option ${name}`);
  return found;
}

/** Options that only make sense together. */
function pairProblems(settings: readonly Setting[]): string[] {
  const cert = settingOf(settings, 'tls-cert');
  const key = settingOf(settings, 'tls-key');
  if ((cert.value === null) === (key.value === null)) return [];
  const [set, missing] = cert.value === null ? [key, cert] : [cert, key];
  return [`${where(set.spec, set.origin)}: ${missing.spec.name} is not set; tls-cert and tls-key go together.`];
}

/** The ServerConfig the settings ask for (what SiarServer.start takes); reads the TLS files. */
export function serverConfigOf(settings: readonly Setting[]): Partial<ServerConfig> {
  const config = configFields(settings.map((s) => [s.spec, s.value] as const)) as Partial<ServerConfig>;
  const cert = settingOf(settings, 'tls-cert');
  const key = settingOf(settings, 'tls-key');
  config.tls = cert.value !== null && key.value !== null ? { cert: readSetFile(cert), key: readSetFile(key) } : null;
  return config;
}

function readSetFile(setting: Setting): Buffer {
  const file = String(setting.value);
  try {
    return readFileSync(file);
  } catch (err) {
    throw new CliError(`${where(setting.spec, setting.origin)}: cannot read ${file}: ${(err as Error).message}`);
  }
}

/** A setting as it takes effect, with what changes it at start (a cap lowered to the open-files limit). */
export interface EffectiveSetting extends Setting {
  note?: string;
}

/**
 * The values the server would run with: the data directory made absolute, max-connections from
 * the open-files limit and admin-reserved-connections within half of it (as SiarServer.start does).
 */
export function effectiveSettings(settings: readonly Setting[], openFilesLimit = readOpenFilesLimit()): EffectiveSetting[] {
  const asked = settingOf(settings, 'max-connections').value as number | null;
  const maxTransfers = settingOf(settings, 'max-transfers').value as number;
  const cap = planConnectionCap(asked ?? undefined, openFilesLimit, { maxTransfers });
  const reserveAsked = settingOf(settings, 'admin-reserved-connections').value as number;
  return settings.map((s): EffectiveSetting => {
    switch (s.spec.name) {
      case 'data': return { ...s, value: path.resolve(String(s.value)) };
      case 'max-connections': {
        const limit = `the open-files limit ${cap.openFilesLimit} minus a reserve of ${cap.reserve}`;
        const note = cap.source === 'default' ? limit
          : cap.source === 'clamped' ? `lowered from ${asked}: ${limit}`
            : cap.source === 'fallback' ? 'the open-files limit cannot be read' : undefined;
        return { ...s, value: cap.maxConnections, ...(note ? { note } : {}) };
      }
      case 'admin-reserved-connections': {
        const reserve = adminReserve(reserveAsked, cap.maxConnections);
        return reserve === reserveAsked ? s : { ...s, value: reserve, note: `lowered from ${reserveAsked}: at most half of max-connections` };
      }
      default: return s;
    }
  });
}

/**
 * The config file of `siar server --config FILE`: YAML, one `key: value` line per setting, the
 * keys being the flags' names (as ntfy's server.yml). Read with its line numbers so that every
 * problem names the file, the line and the key.
 */
import { readFileSync, statSync } from 'node:fs';
import { LineCounter, isAlias, isMap, isScalar, parseDocument, type Node } from 'yaml';
import type { RawValue } from '../../server/option-kinds.js';
import { nearestCommand } from './command-menu.js';

export interface FileSetting { key: string; value: RawValue; line: number }

/** A config file longer than this is not a config file (and is not read into memory). */
const MAX_FILE_BYTES = 1024 * 1024;

/** The settings of the file, and a sentence for each of its problems (unknown keys among them). */
export function readConfigFile(file: string, knownKeys: readonly string[]): { settings: FileSetting[]; problems: string[] } {
  const text = readText(file);
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) return { settings: [], problems: doc.errors.map((e) => `${file}:${e.linePos?.[0].line ?? 1}: ${syntaxProblem(e.code, e.message)}`) };
  if (doc.contents === null) return { settings: [], problems: [] };
  if (!isMap(doc.contents)) return { settings: [], problems: [`${file}: the file must be a list of \`key: value\` lines (e.g. max-connections: 1000).`] };
  const settings: FileSetting[] = [];
  const problems: string[] = [];
  for (const pair of doc.contents.items) {
    const keyNode = pair.key as Node | null;
    const line = lines.linePos(keyNode?.range?.[0] ?? 0).line;
    const key = isScalar(keyNode) ? String(keyNode.value) : String(keyNode);
    const at = `${file}:${line}`;
    if (!knownKeys.includes(key)) {
      problems.push(`${at}: unknown key "${key}"${didYouMean(key, knownKeys)}`);
      continue;
    }
    const node = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value as Node | null;
    const value = isScalar(node) ? node.value : undefined;
    if (value === null || node === null) problems.push(`${at}: ${key} has no value; give one, or remove the line for the default.`);
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') settings.push({ key, value, line });
    else problems.push(`${at}: ${key} must be one value (text or a number), not a list or a map.`);
  }
  return { settings, problems };
}

function readText(file: string): string {
  try {
    if (statSync(file).size > MAX_FILE_BYTES) throw new Error(`it is larger than ${MAX_FILE_BYTES / 1024} KiB, which no siar config file is`);
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`Cannot read the config file ${file}: ${(err as Error).message}.`);
  }
}

/** The YAML parser's complaint as one sentence, without its own "at line …" (the caller says where). */
function syntaxProblem(code: string, message: string): string {
  if (code === 'MULTIPLE_DOCS') return 'the file holds more than one YAML document (a `---` line); keep one.';
  const first = message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return `not valid YAML: ${first}.`;
}

/** `; did you mean "max-connections"?` for a near miss (maxConnections and max_connections included). */
function didYouMean(key: string, knownKeys: readonly string[]): string {
  const dashed = key.replace(/_/g, '-').replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
  const near = knownKeys.includes(dashed) ? dashed : nearestCommand(dashed, [...knownKeys]);
  return near ? `; did you mean "${near}"?` : ' (the keys are the flags of `siar server --help`, without their dashes).';
}

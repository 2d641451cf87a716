/**
 * contrib/server.yml and docs/SERVER-OPTIONS.md are what the option table says today (regenerate
 * with `node --import tsx scripts/server-options.ts`), and the limits the protocol documents name
 * options that exist.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { EXAMPLE_FILE, REFERENCE_FILE, renderExample, renderReference } from '../../scripts/server-options/render.js';
import { SERVER_OPTIONS, envName } from '../../src/server/options.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

t.test('the example config file and the reference are generated from the option table', async (t) => {
  t.equal(read(EXAMPLE_FILE), renderExample(), `${EXAMPLE_FILE} is up to date`);
  t.equal(read(REFERENCE_FILE), renderReference(), `${REFERENCE_FILE} is up to date`);
  const reference = read(REFERENCE_FILE);
  const example = read(EXAMPLE_FILE);
  for (const o of SERVER_OPTIONS) {
    t.ok(reference.includes(`\`--${o.name} `) && reference.includes(`\`${envName(o)}\``), `${o.name}: its flag and variable are listed`);
    t.match(example, new RegExp(`^#${o.name}: `, 'm'), `${o.name}: in the example file`);
  }
});

/** The `--flags` the table of a section of a document names. */
function flagsIn(file: string, heading: string): string[] {
  const text = read(file);
  const start = text.indexOf(`\n${heading}\n`);
  const rows = text.slice(start, text.indexOf('\n## ', start + 1)).split('\n').filter((l) => l.startsWith('|'));
  return rows.flatMap((row) => [...row.matchAll(/`(--[a-z-]+)`/g)].map((m) => m[1]!));
}

t.test('the limits the protocol documents are options, named by their flags', async (t) => {
  const flags = new Set(SERVER_OPTIONS.map((o) => `--${o.name}`));
  for (const [file, heading] of [['docs/PROTOCOL.md', '## Limits'], ['docs/PROTOCOL-transfer.md', '## Limits and timeouts']]) {
    const named = flagsIn(file!, heading!);
    t.ok(named.length >= 10, `${file} ${heading} names the options`);
    for (const flag of named) t.ok(flags.has(flag), `${file}: ${flag} is an option`);
    t.match(read(file!), /SERVER-OPTIONS\.md/, `${file} points to the reference for defaults`);
  }
});

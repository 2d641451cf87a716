/**
 * Writes the option table (src/server/options.ts) out as the example config file and the reference:
 *   node --import tsx scripts/server-options.ts           rewrite contrib/server.yml and docs/SERVER-OPTIONS.md
 *   node --import tsx scripts/server-options.ts --check   exit 1 if either differs from the table
 * test/docs/server-options.test.ts runs the same comparison.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXAMPLE_FILE, REFERENCE_FILE, renderExample, renderReference } from './server-options/render.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const check = process.argv.includes('--check');
const stale: string[] = [];
for (const [file, text] of [[EXAMPLE_FILE, renderExample()], [REFERENCE_FILE, renderReference()]] as const) {
  const at = path.join(root, file);
  let current = '';
  try {
    current = readFileSync(at, 'utf8');
  } catch { /* not written yet */ }
  if (current === text) continue;
  stale.push(file);
  if (!check) writeFileSync(at, text);
}
if (check) {
  for (const file of stale) process.stderr.write(`${file} differs from src/server/options.ts; run node --import tsx scripts/server-options.ts\n`);
  process.exitCode = stale.length ? 1 : 0;
} else {
  process.stdout.write(stale.length ? `rewrote ${stale.join(', ')}\n` : 'both files are up to date\n');
}

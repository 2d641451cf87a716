/**
 * The shipped build, end to end: the README walk-through and the CLI flows run again through
 * bin/siar.js and the compiled dist/ (every other test starts `siar` from the TypeScript sources,
 * test/helpers/siar-cli.mjs). The build is made first, so a stale dist/ cannot pass for this tree.
 * (The folder is not called test/dist: tap leaves out every dist/ folder by default.)
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const root = fileURLToPath(new URL('../..', import.meta.url));
execFileSync(process.execPath, [fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
process.env.SIAR_CLI = 'dist';
t.comment('siar runs from bin/siar.js and dist/');

await import('../readme/walkthrough.test.js');
await import('../client/cli.test.js');

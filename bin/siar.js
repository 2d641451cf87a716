#!/usr/bin/env node
// The one siar executable: runs the compiled JavaScript in dist/ (`npm run build`; `npm ci` and
// `npm install` build it through the `prepare` script).
import { existsSync } from 'node:fs';

const main = new URL('../dist/client/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('siar: this copy is not built yet; run `npm run build` in its folder (npm ci does it too).\n');
  process.exit(1);
}
await import(main.href);

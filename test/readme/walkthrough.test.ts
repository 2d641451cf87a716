/**
 * The README's walk-through runs as written (issue 22 item 9): every `sh` block between the
 * walkthrough markers, in order, pasted into bash (`-euo pipefail`: any failing command, unset
 * variable or failing pipe fails the test) in a fresh directory, against a real `siar server` on a
 * fresh data directory, reading the mailed passwords from that data directory as the README says.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import t from 'tap';
import { SIAR, startSiarServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/siar.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The `sh` blocks between `<!-- walkthrough:begin` and `<!-- walkthrough:end -->`, in order. */
export function walkthroughBlocks(markdown: string): string[] {
  const begin = markdown.indexOf('<!-- walkthrough:begin');
  const end = markdown.indexOf('<!-- walkthrough:end -->');
  if (begin < 0 || end < begin) throw new Error('README.md has no walkthrough:begin … walkthrough:end markers');
  return [...markdown.slice(begin, end).matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

// About 25 runs of the siar executable, each loading TypeScript through tsx: 30–60 s on a busy machine.
t.setTimeout(300_000);

t.test('the README walk-through runs top to bottom against a fresh server', async (t) => {
  const blocks = walkthroughBlocks(readFileSync(path.join(ROOT, 'README.md'), 'utf8'));
  t.ok(blocks.length >= 5, `${blocks.length} blocks found between the markers`);
  const script = blocks.join('\n');
  t.match(script, /node bin\/siar\.js listen &/, 'the listener runs in the background');

  // A fresh directory as the reader's checkout: its bin/siar.js is the siar the tests run (the
  // sources, or the build with SIAR_CLI=dist: helpers/siar-cli.mjs), data/ is the server's.
  const dir = tempDir(t, 'siar-readme-');
  mkdirSync(path.join(dir, 'bin'));
  writeFileSync(path.join(dir, 'bin', 'siar.js'), `import ${JSON.stringify(pathToFileURL(SIAR).href)};\n`);
  const { address } = await startSiarServer(t, path.join(dir, 'data'));

  const env: Record<string, string> = { ...(process.env as Record<string, string>), SIAR_SERVER: address };
  for (const k of ['SIAR_USER', 'SIAR_PASSWORD', 'SIAR_NEW_PASSWORD', 'SIAR_TLS', 'SIAR_CA']) delete env[k];
  const bash = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  // Its own process group: whatever the script leaves behind (the listener, if it failed early) goes with it.
  t.teardown(() => { try { process.kill(-bash.pid!, 'SIGTERM'); } catch { /* gone */ } });
  let stdout = '';
  let stderr = '';
  bash.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  bash.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  const code = await new Promise<number | null>((resolve) => bash.on('close', resolve));
  t.equal(code, 0, 'the walk-through exits 0', { stderr, stdout });

  // What the reader sees along the way.
  t.match(stdout, /^approved \d+: member unhas created; credentials mail \d+ sent to budi@unhas\.ac\.id$/m, 'the approval, with the mail sent');
  t.match(stdout, /^Password: [A-Za-z0-9]{20}$/m, 'the mail shown as text, with its Password line');
  t.match(stderr, /^listening as ugm$/m, 'ugm listens');
  const popups = stdout.split('\n').filter((l) => / from unhas \(Universitas Hasanuddin\)/.test(l));
  t.match(popups, [
    /^\[\S+Z\] #1 from unhas \(Universitas Hasanuddin\): Seminar nasional$/,
    /^\[\S+Z\] #2 from unhas \(Universitas Hasanuddin\): Undangan seminar \[2 attachment\(s\): undangan\.txt, acara\.txt\]$/,
    /^\[\S+Z\] #3 from unhas \(Universitas Hasanuddin\) via #beasiswa: Beasiswa S2 dibuka$/,
    /^\[\S+Z\] #4 from unhas \(Universitas Hasanuddin\): Rapat koordinasi$/,
  ], 'ugm\'s listener printed each popup, in order');
  t.equal(popups.length, 4, 'each once', { popups });
  // The alerts block: what its comments say ugm's inbox shows after the correction was recalled.
  t.match(stdout, /^\d+ .*WITHDRAWN +Gempa: keluar gedung$/m, 'the urgent notice withdrawn in ugm\'s inbox');
  t.notMatch(stdout, /^\d+ .*hanya latihan$/m, 'the correction, recalled before ugm had it, is not in it');
  for (const name of ['undangan.txt', 'acara.txt']) {
    t.equal(readFileSync(path.join(dir, 'downloads', name), 'utf8'), readFileSync(path.join(dir, name), 'utf8'), `${name} downloaded intact`);
  }
});

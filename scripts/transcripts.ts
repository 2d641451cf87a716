/**
 * Regenerates the `nc` transcripts in docs/PROTOCOL*.md from a real server (issue 22 item 10):
 *   node --import tsx scripts/transcripts.ts           rewrite the blocks that changed
 *   node --import tsx scripts/transcripts.ts --check   exit 1 if a block differs from a fresh run
 * Blocks sit between `<!-- transcript:NAME -->` and `<!-- /transcript:NAME -->`; timestamps may
 * differ between runs, everything else must match (test/docs/transcripts.test.ts runs the check).
 */
import { fileURLToPath } from 'node:url';
import { checkTranscripts, writeTranscripts } from './transcripts/run.js';

const root = fileURLToPath(new URL('..', import.meta.url));
if (process.argv.includes('--check')) {
  const differences = await checkTranscripts(root);
  for (const d of differences) {
    process.stderr.write(`${d.file} transcript ${d.block}:\n  documented: ${d.documented}\n  recorded:   ${d.recorded}\n`);
  }
  process.exitCode = differences.length ? 1 : 0;
} else {
  const written = await writeTranscripts(root);
  process.stdout.write(written.length ? `rewrote ${written.join(', ')}\n` : 'every transcript is up to date\n');
}

/**
 * The `nc` transcripts in docs/PROTOCOL*.md are what a real server says today (issue 22 item 10):
 * every scene of scripts/transcripts.ts is replayed against a fresh real server and each documented
 * block must match the recording line for line (timestamps aside). Regenerate with
 * `node --import tsx scripts/transcripts.ts`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { blockNames, compareBlock, documentedBlock, replaceBlock } from '../../scripts/transcripts/markdown.js';
import { SCENES } from '../../scripts/transcripts/scenes.js';
import { requireCapability } from '../helpers/capability.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

t.setTimeout(180_000);

for (const scene of SCENES) {
  t.test(`${scene.file}: every transcript matches a fresh recording`, async (t) => {
    const missing = scene.missing?.();
    if (missing && !requireCapability(t, missing.name, missing.reason)) return;
    const recorded = await scene.record();
    const markdown = readFileSync(path.join(ROOT, scene.file), 'utf8');
    t.same(blockNames(markdown), [...recorded.keys()], 'the document has exactly the recorded blocks, in order');
    for (const [name, lines] of recorded) {
      t.equal(compareBlock(scene.file, name, documentedBlock(markdown, name), lines), null, `${name} is up to date`);
    }
    // The check is not blind: a stale line (a changed argument) is caught; a new timestamp is not a change.
    const [name, lines] = [...recorded][0]!;
    const stale = replaceBlock(markdown, name, lines.map((l, i) => (i === lines.length - 1 ? `${l}|stale=1` : l)));
    t.match(compareBlock(scene.file, name, documentedBlock(stale, name), lines), { block: name, documented: /\|stale=1$/ });
    const retimed = replaceBlock(markdown, name, lines.map((l) => l.replace(/\d{4}-\d\d-\d\dT/g, '1999-01-01T')));
    t.equal(compareBlock(scene.file, name, documentedBlock(retimed, name), lines), null);
  });
}

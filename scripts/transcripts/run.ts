/** Records every scene and either rewrites the docs' transcript blocks or checks them. */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { blockNames, compareBlock, documentedBlock, replaceBlock, type Difference } from './markdown.js';
import { SCENES } from './scenes.js';

/** The differences between the docs under `root` and a fresh recording (none: the docs are true). */
export async function checkTranscripts(root: string): Promise<Difference[]> {
  const differences: Difference[] = [];
  for (const scene of SCENES) {
    const recorded = await scene.record();
    const markdown = await readFile(path.join(root, scene.file), 'utf8');
    for (const [name, lines] of recorded) {
      const d = compareBlock(scene.file, name, documentedBlock(markdown, name), lines);
      if (d) differences.push(d);
    }
    for (const name of blockNames(markdown).filter((n) => !recorded.has(n))) {
      differences.push({ file: scene.file, block: name, documented: '(a block no scene records)', recorded: '' });
    }
  }
  return differences;
}

/** Rewrites the blocks whose recording differs (beyond timestamps); returns the blocks rewritten. */
export async function writeTranscripts(root: string): Promise<string[]> {
  const written: string[] = [];
  for (const scene of SCENES) {
    const recorded = await scene.record();
    const file = path.join(root, scene.file);
    let markdown = await readFile(file, 'utf8');
    for (const [name, lines] of recorded) {
      if (compareBlock(scene.file, name, documentedBlock(markdown, name), lines) === null) continue;
      markdown = replaceBlock(markdown, name, lines);
      written.push(`${scene.file}#${name}`);
    }
    await writeFile(file, markdown);
  }
  return written;
}

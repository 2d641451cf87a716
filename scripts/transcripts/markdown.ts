/**
 * Transcript blocks in the docs live between `<!-- transcript:NAME -->` and
 * `<!-- /transcript:NAME -->`, as one fenced code block. This module replaces them with fresh
 * recordings, or compares them with fresh recordings after blanking what differs from run to run
 * (timestamps).
 */

export interface Difference {
  file: string;
  block: string;
  /** The first line that differs, as documented and as recorded (after normalising). */
  documented: string;
  recorded: string;
}

function markers(name: string): { begin: string; end: string } {
  return { begin: `<!-- transcript:${name} -->`, end: `<!-- /transcript:${name} -->` };
}

/** The block's lines as the document has them (inside the fence), or null if it has no such block. */
export function documentedBlock(markdown: string, name: string): string[] | null {
  const { begin, end } = markers(name);
  const from = markdown.indexOf(begin);
  const to = markdown.indexOf(end);
  if (from < 0 || to < from) return null;
  const inner = markdown.slice(from + begin.length, to).trim();
  const fenced = /^```[a-z]*\n([\s\S]*?)\n?```$/.exec(inner);
  if (!fenced) throw new Error(`the transcript block ${name} is not one fenced code block`);
  return fenced[1]!.split('\n');
}

/** Every transcript block name the document has, in order. */
export function blockNames(markdown: string): string[] {
  return [...markdown.matchAll(/<!-- transcript:([a-z0-9-]+) -->/g)].map((m) => m[1]!);
}

export function replaceBlock(markdown: string, name: string, lines: string[]): string {
  const { begin, end } = markers(name);
  const from = markdown.indexOf(begin);
  const to = markdown.indexOf(end);
  if (from < 0 || to < from) throw new Error(`the document has no ${begin} … ${end}`);
  return `${markdown.slice(0, from + begin.length)}\n\`\`\`\n${lines.join('\n')}\n\`\`\`\n${markdown.slice(to)}`;
}

/**
 * What changes from one run to the next: the time of day, and in STATS the bytes the control
 * connections carried (TLS-free, but the token and timestamps differ in length), how late the
 * event loop ran, and the connections still closing.
 */
export function normalize(line: string): string {
  return line
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, 'TIME')
    .replace(/\b(bytesIn|bytesOut|loopP50Ms|loopP99Ms|loopMaxMs|loopMaxEverMs|connectionsClosed)=[\d.]+/g, '$1=N');
}

/** The first difference between a documented block and a recording, or null when they agree. */
export function compareBlock(file: string, block: string, documented: string[] | null, recorded: string[]): Difference | null {
  if (documented === null) return { file, block, documented: '(no such block)', recorded: recorded[0] ?? '' };
  const n = Math.max(documented.length, recorded.length);
  for (let i = 0; i < n; i++) {
    const d = documented[i];
    const r = recorded[i];
    if (d === undefined || r === undefined || normalize(d) !== normalize(r)) {
      return { file, block, documented: d ?? '(end of block)', recorded: r ?? '(end of block)' };
    }
  }
  return null;
}

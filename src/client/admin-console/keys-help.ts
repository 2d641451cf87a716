/** The console's ? box: every screen by its key with what its keys do, then the keys that work anywhere. */
import type { Screen } from './host.js';

/** Parts joined with " · ", a line break between parts where the next one would pass `width`. */
function pack(parts: string[], width: number): string {
  const lines: string[] = [];
  for (const part of parts) {
    const last = lines[lines.length - 1];
    if (last !== undefined && last.length + 3 + part.length <= width) lines[lines.length - 1] = `${last} · ${part}`;
    else lines.push(part);
  }
  return lines.join('\n');
}

/**
 * Field → text for the details box, `width` wide (the keys break between, not inside, entries):
 * 20 lines at 80 columns, so the box fits 80×24 without scrolling.
 */
export function keysHelp(screens: readonly Screen[], width: number): Record<string, string> {
  const entries: Array<[string, string[]]> = screens.map((s) => [`${s.key} ${s.title}`, (s.everyKey ?? s.help).split(/ {2,}/)]);
  const n = screens.length;
  entries.push(
    ['Anywhere', [`1-${n} or F1-F${n} a screen`, 'Tab/S-Tab next/previous', 'g or F5 refresh', '? keys', 'q quit']],
    ['Forms, lists', ['Tab/↑/↓ move', 'Space change or choose', 'type to filter a list', 'Enter save', 'Esc cancel']],
  );
  const keyWidth = Math.max(...entries.map(([k]) => k.length));
  return Object.fromEntries(entries.map(([k, parts]) => [k, pack(parts, width - keyWidth - 2)]));
}

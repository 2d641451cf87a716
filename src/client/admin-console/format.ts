/** Small text helpers shared by the console screens and the admin subcommands. */
import { stripControls } from '../tui/editor.js';

/** Sizes as everywhere else in siar (IEC units: "512 B", "1.5 KiB"). */
export { formatBytes } from '../../transfer/units.js';

const TICKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** One character per value, scaled to the largest. */
export function sparkline(values: number[]): string {
  const max = Math.max(0, ...values);
  return values.map((v) => (max === 0 ? TICKS[0]! : TICKS[Math.min(TICKS.length - 1, Math.floor((v / max) * (TICKS.length - 1)))]!)).join('');
}

/** A text progress bar: `[#####.....]`. */
export function progressBar(fraction: number, width = 20): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${'#'.repeat(full)}${'.'.repeat(width - full)}]`;
}

/** `2025-11-26T01:20:00.123Z` → `2025-11-26 01:20:00`; '' stays ''. */
export function shortTime(iso: string | undefined): string {
  if (!iso) return '';
  return iso.replace('T', ' ').replace(/\.\d+Z$/, '').replace(/Z$/, '');
}

/** Vertical bar chart, `height` rows, one column per value, with the scale on the left. */
export function barChart(values: number[], height: number, label = ''): string[] {
  const max = Math.max(1, ...values);
  const rows: string[] = [];
  const scale = String(max).length;
  for (let row = height; row >= 1; row--) {
    const threshold = (row - 0.5) * (max / height);
    const prefix = row === height ? String(max).padStart(scale) : row === 1 ? '0'.padStart(scale) : ' '.repeat(scale);
    rows.push(`${prefix} │${values.map((v) => (v >= threshold ? '█' : ' ')).join('')}`);
  }
  rows.push(`${' '.repeat(scale)} └${'─'.repeat(values.length)} ${label}`);
  return rows;
}

/** Escapes blessed tags in text that came from people or the server (same as blessed.escape). */
export function escapeTags(text: string): string {
  return text.replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'));
}

export interface Tab {
  key: string;
  title: string;
  badge: string;
}

/**
 * The console's top line (blessed tags), fitted to `width`: every tab with its title when there
 * is room; else the current tab with its title and the others by key only (80 columns); else
 * without the server address as well.
 */
export function headerLine(o: { user: string; address: string; status: string; tabs: Tab[]; current: number; width: number }): string {
  const color = o.status === 'online' ? 'green' : o.status === 'offline' ? 'red' : 'yellow';
  const render = (compact: boolean, withAddress: boolean): { text: string; plain: number } => {
    let plain = 0;
    const tabs = o.tabs.map((t, i) => {
      if (i === o.current) {
        const label = `${t.key} ${t.title}${t.badge}`;
        plain += label.length + 2;
        return `{black-fg}{white-bg} ${escapeTags(label)} {/white-bg}{/black-fg}`;
      }
      // Compact: the key (and badge) alone, one space apart.
      const label = compact ? `${t.key}${t.badge}` : `${t.key} ${t.title}${t.badge}`;
      plain += label.length + (compact ? 1 : 2);
      return compact ? ` ${escapeTags(label)}` : ` ${escapeTags(label)} `;
    }).join('');
    const who = withAddress ? `${o.user}@${o.address}` : o.user;
    const head = ` {bold}siar admin{/bold} ${escapeTags(who)} {${color}-fg}${o.status}{/${color}-fg} │`;
    plain += ` siar admin ${who} ${o.status} │`.length;
    return { text: head + tabs, plain };
  };
  for (const [compact, withAddress] of [[false, true], [true, true], [true, false]] as const) {
    const r = render(compact, withAddress);
    if (r.plain <= o.width) return r.text;
  }
  return render(true, false).text;
}

/** The bottom line: the screen's keys, then the global ones if they fit. */
export function helpLine(screenHelp: string, screens: number, width: number): string {
  const full = ` ${screenHelp}   1-${screens}/Tab screens  g refresh  ? help  q quit`;
  if (full.length <= width) return ` ${escapeTags(screenHelp)}   {white-fg}1-${screens}/Tab screens  g refresh  ? help  q quit{/white-fg}`;
  const short = ` ${screenHelp}  ? help  q quit`;
  if (short.length <= width) return ` ${escapeTags(screenHelp)}  {white-fg}? help  q quit{/white-fg}`;
  return ` ${escapeTags(screenHelp)}`;
}

/** Splits a sentence into lines of at most `width` characters, at spaces where it can. */
export function wrap(text: string, width: number): string[] {
  const w = Math.max(10, width);
  const out: string[] = [];
  let line = '';
  for (const word of stripControls(text).split(' ')) {
    if (line && line.length + 1 + word.length > w) {
      out.push(line);
      line = '';
    }
    line = line ? `${line} ${word}` : word;
    while (line.length > w) {
      out.push(line.slice(0, w));
      line = line.slice(w);
    }
  }
  if (line) out.push(line);
  return out;
}

/** `key  value` lines for a details box `width` wide: long values wrap, and every line of a value stays in its column. */
export function fieldLines(fields: Record<string, string>, width: number): string[] {
  const keyWidth = Math.max(0, ...Object.keys(fields).map((k) => k.length));
  return Object.entries(fields).flatMap(([k, v]) => {
    const lines = v.split('\n').flatMap((l) => (l ? wrap(l, width - keyWidth - 2) : ['']));
    return lines.map((l, i) => `${i === 0 ? k.padEnd(keyWidth) : ' '.repeat(keyWidth)}  ${l}`.trimEnd());
  });
}

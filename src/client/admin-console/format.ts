/** Small text helpers shared by the console screens and the admin subcommands. */
import { formatBytes } from '../../protocol/units.js';
import type { MemberRow, NodeTraffic, Stats } from '../replies.js';
import { stripControls } from '../tui/editor.js';

/** Sizes as everywhere else in siar (IEC units: "512 B", "1.5 KiB"). */
export { formatBytes } from '../../protocol/units.js';

const TICKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/** One character per value, scaled to the largest. */
export function sparkline(values: number[]): string {
  const max = Math.max(0, ...values);
  return values.map((v) => (max === 0 ? TICKS[0]! : TICKS[Math.min(TICKS.length - 1, Math.floor((v / max) * (TICKS.length - 1)))]!)).join('');
}

/** A limit next to what is used of it: `1.2 MiB / 10 GiB`, `3 / 120`; a limit of 0 is none: `1.2 MiB / -`. */
export function usedOf(used: number, limit: number, format: (n: number) => string = String): string {
  return `${format(used)} / ${limit > 0 ? format(limit) : '-'}`;
}

/** A member row's storage and sending against the server's limits (MEMBERS fields). */
export function memberUsage(m: Pick<MemberRow, 'storedBytes' | 'quotaBytes' | 'sentLastMinute' | 'maxSendsPerMinute'>): { stored: string; sending: string } {
  return { stored: usedOf(m.storedBytes, m.quotaBytes, formatBytes), sending: usedOf(m.sentLastMinute, m.maxSendsPerMinute) };
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
  /** The title where room is short (80 columns): "Regs" for Registrations. */
  short: string;
  badge: string;
}

interface Fitted {
  text: string;
  plain: number;
}

/** The tabs, one space apart, the current one inverse with a space each side. */
function tabBar(tabs: Tab[], current: number, name: (t: Tab, i: number) => string, badges: boolean): Fitted {
  let plain = 1;
  const parts = tabs.map((t, i) => {
    const label = [t.key, name(t, i)].filter(Boolean).join(' ') + (badges ? t.badge : '');
    if (i === current) {
      plain += label.length + 2;
      return `{black-fg}{white-bg} ${escapeTags(label)} {/white-bg}{/black-fg}`;
    }
    plain += label.length;
    return escapeTags(label);
  });
  plain += parts.length - 1;
  return { text: ` ${parts.join(' ')}`, plain };
}

/**
 * The console's top lines (blessed tags), fitted to `width`. Where everything fits: one line, the
 * connection then every tab by its title. Else two: the connection (and the tabs' counts), then
 * every tab by key and name, abbreviated as far as needed ("1 Regs … 8 Chans" at 80 columns):
 * every screen stays named.
 */
export function headerLines(o: { user: string; address: string; status: string; tabs: Tab[]; current: number; width: number }): string[] {
  const color = o.status === 'online' ? 'green' : o.status === 'offline' ? 'red' : 'yellow';
  const head = (withAddress: boolean): Fitted => {
    const who = withAddress ? `${o.user}@${o.address}` : o.user;
    return { text: ` {bold}siar admin{/bold} ${escapeTags(who)} {${color}-fg}${o.status}{/${color}-fg}`, plain: ` siar admin ${who} ${o.status}`.length };
  };
  const full = tabBar(o.tabs, o.current, (t) => t.title, true);
  const connection = head(true);
  if (connection.plain + 2 + full.plain <= o.width) return [`${connection.text} │${full.text}`];

  const names: Array<[(t: Tab, i: number) => string, boolean]> = [
    [(t) => t.title, true],
    [(t, i) => (i === o.current ? t.title : t.short), true],
    [(t) => t.short, true],
    [(t) => t.short, false],
    [(t) => t.short.slice(0, 3), false],
    [() => '', false],
  ];
  let tabs = tabBar(o.tabs, o.current, names[names.length - 1]![0], false);
  let badgesShown = false;
  for (const [name, badges] of names) {
    const fitted = tabBar(o.tabs, o.current, name, badges);
    if (fitted.plain <= o.width) {
      tabs = fitted;
      badgesShown = badges;
      break;
    }
  }
  // Counts the tab bar had no room for go up beside the connection: "Regs (3) · Mail (2)".
  const counts = badgesShown ? '' : o.tabs.filter((t) => t.badge).map((t) => `${t.short}${t.badge}`).join(' · ');
  const withCounts = (h: Fitted) => (counts ? { text: `${h.text} │ ${escapeTags(counts)}`, plain: h.plain + 3 + counts.length } : h);
  const first = [withCounts(head(true)), withCounts(head(false)), head(false)].find((h) => h.plain <= o.width) ?? head(false);
  return [first.text, tabs.text];
}

/**
 * The bottom line: the screen's keys (split at double spaces), then the global ones. When room
 * is short the screen's last keys go first, then the global ones but help and quit: "? help" and
 * "q quit" always show.
 */
export function helpLine(screenHelp: string, screens: number, width: number): string {
  const own = screenHelp.split(/ {2,}/).filter(Boolean);
  const global = [`1-${screens}/Tab screens`, 'g refresh'];
  const kept = ['? help', 'q quit'];
  const render = (mine: string[], others: string[]) => {
    const tail = [...others, ...kept].join('  ');
    const plain = ` ${mine.join('  ')}${mine.length ? '   ' : ''}${tail}`;
    return { plain: plain.length, text: ` ${escapeTags(mine.join('  '))}${mine.length ? '   ' : ''}{white-fg}${escapeTags(tail)}{/white-fg}` };
  };
  for (let n = own.length; n >= 0; n--) {
    for (const others of [global, []]) {
      const r = render(own.slice(0, n), others);
      if (r.plain <= width) return r.text;
    }
  }
  return render([], []).text;
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

/**
 * STATS's nodes as a table (at most 70 columns): one line per node since it started, `*` marking the
 * one that answered, then the cluster's total. Nothing for a single node (its figures are the totals).
 */
export function nodeTrafficLines(s: Pick<Stats, 'nodeId' | 'nodes' | 'total'>): string[] {
  if (s.nodes.length < 2) return [];
  const row = (name: string, n: NodeTraffic): string => [
    name.length > 16 ? `${name.slice(0, 15)}…` : name.padEnd(16), String(n.messages).padStart(8), String(n.popups).padStart(8),
    formatBytes(n.bytesIn).padStart(10), formatBytes(n.bytesOut).padStart(10), String(n.connectionsOpened).padStart(11),
  ].join(' ');
  return [
    `${'node'.padEnd(16)} ${'messages'.padStart(8)} ${'popups'.padStart(8)} ${'bytes in'.padStart(10)} ${'bytes out'.padStart(10)} ${'connections'.padStart(11)}`,
    ...s.nodes.map((n) => row(`${n.node === s.nodeId ? '*' : ' '}${stripControls(n.node)}`, n)),
    row(' all nodes', s.total),
  ];
}

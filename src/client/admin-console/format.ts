/** Small text helpers shared by the console screens and the admin subcommands. */

export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

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

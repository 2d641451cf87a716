/** Human units for limits given on the command line: sizes, durations and port ranges. */

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1,
  k: 1024, kb: 1000, kib: 1024,
  m: 1024 ** 2, mb: 1000 ** 2, mib: 1024 ** 2,
  g: 1024 ** 3, gb: 1000 ** 3, gib: 1024 ** 3,
  t: 1024 ** 4, tb: 1000 ** 4, tib: 1024 ** 4,
};

/** `1048576`, `512K`, `100MB`, `1GiB`, `1.5g` → bytes. K/M/G alone are binary (as in `ls -h`). */
export function parseByteSize(value: string | number): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`"${value}" is not a size in bytes.`);
    return value;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`"${value}" is not a size (e.g. 1048576, 500M, 1GiB).`);
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new Error(`"${value}" is too large.`);
  return bytes;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, '': 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90` (seconds), `500ms`, `30s`, `10m`, `24h`, `7d` → milliseconds. */
export function parseDuration(value: string | number): number {
  if (typeof value === 'number') return Math.round(value * 1000);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m ? DURATION_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new Error(`"${value}" is not a duration (e.g. 60, 30s, 10m, 24h).`);
  return Math.round(Number(m[1]) * unit);
}

/** `40000-40099` → { from, to }; a single port is a range of one. */
export function parsePortRange(value: string): { from: number; to: number } {
  const m = /^\s*(\d{1,5})\s*(?:-\s*(\d{1,5}))?\s*$/.exec(value);
  if (!m) throw new Error(`"${value}" is not a port range (e.g. 40000-40099).`);
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1 || to > 65535 || from > to) throw new Error(`"${value}" is not a port range within 1-65535.`);
  return { from, to };
}

/**
 * The one way siar writes a size for people, in the CLI, the TUI and the admin console: IEC units
 * ("512 B", "1.5 KiB", "20 MiB"), one decimal below 10; "?" for what is not a size.
 */
export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[i]}`;
}

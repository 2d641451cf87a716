/** A small hand-made SVG line chart (no dependencies): log or linear x, linear or log y. */

export interface Series {
  name: string;
  points: [number, number][];
  color: string;
  dashed?: boolean;
}

export interface ChartOptions {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  logX?: boolean;
  logY?: boolean;
  width?: number;
  height?: number;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const step0 = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function logTicks(min: number, max: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(min)); e <= Math.ceil(Math.log10(max)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= min * 0.999 && v <= max * 1.001) out.push(v);
    }
  }
  return out;
}

function label(v: number): string {
  if (Math.abs(v) >= 1000) return v.toLocaleString('en-US', { maximumFractionDigits: 0 });
  if (Math.abs(v) >= 10) return v.toFixed(0);
  if (Math.abs(v) >= 1) return v.toFixed(1).replace(/\.0$/, '');
  return String(Number(v.toPrecision(2)));
}

export function lineChart(o: ChartOptions): string {
  const W = o.width ?? 760;
  const H = o.height ?? 440;
  const m = { left: 70, right: 180, top: o.subtitle ? 62 : 44, bottom: 56 };
  const pts = o.series.flatMap((s) => s.points).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logY || y > 0));
  const xs = pts.map(([x]) => x);
  const ys = pts.map(([, y]) => y);
  let xMin = Math.min(...xs);
  let xMax = Math.max(...xs);
  let yMin = o.logY ? Math.min(...ys) : 0;
  let yMax = Math.max(...ys);
  if (!Number.isFinite(xMin)) { xMin = 1; xMax = 10; }
  if (!Number.isFinite(yMax) || yMax <= 0) yMax = 1;
  if (o.logY) { yMin = 10 ** Math.floor(Math.log10(yMin)); yMax = 10 ** Math.ceil(Math.log10(yMax)); }
  else yMax *= 1.1;
  if (xMax === xMin) xMax = xMin * 10;
  const fx = (x: number): number => {
    const t = o.logX ? (Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin)) : (x - xMin) / (xMax - xMin);
    return m.left + t * (W - m.left - m.right);
  };
  const fy = (y: number): number => {
    const t = o.logY ? (Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin)) : (y - yMin) / (yMax - yMin);
    return H - m.bottom - t * (H - m.top - m.bottom);
  };
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(o.title)}</text>`);
  if (o.subtitle) out.push(`<text x="${W / 2}" y="42" text-anchor="middle" fill="#555">${esc(o.subtitle)}</text>`);
  const xt = o.logX ? logTicks(xMin, xMax) : niceTicks(xMin, xMax);
  const yt = o.logY ? logTicks(yMin, yMax) : niceTicks(yMin, yMax);
  for (const t of yt) {
    const y = fy(t);
    out.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${y}" y2="${y}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${m.left - 6}" y="${y + 4}" text-anchor="end">${label(t)}</text>`);
  }
  for (const t of xt) {
    const x = fx(t);
    out.push(`<line x1="${x}" x2="${x}" y1="${m.top}" y2="${H - m.bottom}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${x}" y="${H - m.bottom + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${W - m.left - m.right}" height="${H - m.top - m.bottom}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 14}" text-anchor="middle">${esc(o.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle">${esc(o.yLabel)}</text>`);
  o.series.forEach((s, i) => {
    const p = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!o.logY || y > 0));
    if (p.length > 0) {
      const d = p.map(([x, y], j) => `${j === 0 ? 'M' : 'L'}${fx(x).toFixed(1)},${fy(y).toFixed(1)}`).join(' ');
      out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
      for (const [x, y] of p) out.push(`<circle cx="${fx(x).toFixed(1)}" cy="${fy(y).toFixed(1)}" r="3" fill="${s.color}"/>`);
    }
    const ly = m.top + 10 + i * 20;
    out.push(`<line x1="${W - m.right + 12}" x2="${W - m.right + 36}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    out.push(`<text x="${W - m.right + 42}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

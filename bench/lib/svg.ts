/**
 * A tiny dependency-free SVG chart writer: grouped bars and line/step series, with axes, ticks,
 * a legend and a title. Output is plain SVG 1.1 that GitHub renders inline.
 */
const PALETTE = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c', '#0891b2', '#4b5563', '#ca8a04'];
const FONT = 'font-family="system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif"';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fmt = (v: number) => (Math.abs(v) >= 1000 ? `${Math.round(v / 100) / 10}k` : Math.abs(v) >= 10 || v === 0 ? String(Math.round(v)) : String(Math.round(v * 10) / 10));

/** "Nice" axis ticks covering [0, max]. */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = 0; t <= max + step * 0.999; t += step) ticks.push(Math.round(t * 1e6) / 1e6);
  return ticks;
}

interface Frame {
  width: number;
  height: number;
  left: number;
  right: number;
  top: number;
  bottom: number;
}

function header(f: Frame, title: string, subtitle?: string): string[] {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${f.width}" height="${f.height}" viewBox="0 0 ${f.width} ${f.height}" ${FONT} font-size="12">`,
    `<rect width="100%" height="100%" fill="#ffffff"/>`,
    `<text x="${f.left}" y="20" font-size="15" font-weight="600" fill="#111827">${esc(title)}</text>`,
    subtitle ? `<text x="${f.left}" y="37" font-size="11" fill="#6b7280">${esc(subtitle)}</text>` : '',
  ];
}

function yAxis(f: Frame, ticks: number[], label: string): string[] {
  const plotH = f.height - f.top - f.bottom;
  const max = ticks[ticks.length - 1]!;
  const out: string[] = [];
  for (const t of ticks) {
    const y = f.top + plotH - (t / max) * plotH;
    out.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#e5e7eb"/>`);
    out.push(`<text x="${f.left - 6}" y="${(y + 4).toFixed(1)}" text-anchor="end" fill="#374151">${fmt(t)}</text>`);
  }
  out.push(`<text transform="translate(14 ${f.top + plotH / 2}) rotate(-90)" text-anchor="middle" fill="#374151">${esc(label)}</text>`);
  return out;
}

function legend(f: Frame, names: string[]): string[] {
  const out: string[] = [];
  let x = f.left;
  const y = f.height - 12;
  names.forEach((n, i) => {
    out.push(`<rect x="${x}" y="${y - 9}" width="10" height="10" fill="${PALETTE[i % PALETTE.length]}"/>`);
    out.push(`<text x="${x + 14}" y="${y}" fill="#111827">${esc(n)}</text>`);
    x += 24 + n.length * 6.6;
  });
  return out;
}

export interface BarChart {
  title: string;
  subtitle?: string;
  yLabel: string;
  categories: string[];
  series: { name: string; values: (number | null)[] }[];
  width?: number;
  height?: number;
  /** Draw a dashed horizontal reference line (e.g. an SLO). */
  reference?: { value: number; label: string };
}

export function barChart(c: BarChart): string {
  const f: Frame = { width: c.width ?? 760, height: c.height ?? 360, left: 64, right: 16, top: 48, bottom: 64 };
  const values = c.series.flatMap((s) => s.values.filter((v): v is number => v !== null && Number.isFinite(v)));
  const ticks = niceTicks(Math.max(...values, c.reference?.value ?? 0, 1e-9));
  const max = ticks[ticks.length - 1]!;
  const plotW = f.width - f.left - f.right;
  const plotH = f.height - f.top - f.bottom;
  const groupW = plotW / Math.max(1, c.categories.length);
  const barW = Math.max(2, (groupW * 0.8) / Math.max(1, c.series.length));
  const out = [...header(f, c.title, c.subtitle), ...yAxis(f, ticks, c.yLabel)];
  c.categories.forEach((cat, gi) => {
    const gx = f.left + gi * groupW + groupW * 0.1;
    c.series.forEach((s, si) => {
      const v = s.values[gi];
      if (v === null || v === undefined || !Number.isFinite(v)) return;
      const h = (v / max) * plotH;
      const x = gx + si * barW;
      const y = f.top + plotH - h;
      out.push(`<rect x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(barW - 1).toFixed(1)}" height="${h.toFixed(1)}" fill="${PALETTE[si % PALETTE.length]}"><title>${esc(`${s.name} · ${cat}: ${v}`)}</title></rect>`);
      if (barW >= 18) out.push(`<text x="${(x + barW / 2).toFixed(1)}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="9" fill="#374151">${fmt(v)}</text>`);
    });
    out.push(`<text x="${(f.left + gi * groupW + groupW / 2).toFixed(1)}" y="${f.top + plotH + 16}" text-anchor="middle" fill="#111827">${esc(cat)}</text>`);
  });
  if (c.reference) {
    const y = f.top + plotH - (c.reference.value / max) * plotH;
    out.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${y.toFixed(1)}" y2="${y.toFixed(1)}" stroke="#111827" stroke-dasharray="5 4"/>`);
    out.push(`<text x="${f.width - f.right - 4}" y="${(y - 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#111827">${esc(c.reference.label)}</text>`);
  }
  out.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${f.top + plotH}" y2="${f.top + plotH}" stroke="#9ca3af"/>`);
  out.push(...legend(f, c.series.map((s) => s.name)), '</svg>');
  return out.filter(Boolean).join('\n') + '\n';
}

export interface LineChart {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: { name: string; points: [number, number][] }[];
  width?: number;
  height?: number;
  /** Vertical markers (e.g. "region killed"). */
  markers?: { x: number; label: string }[];
  yMax?: number;
}

export function lineChart(c: LineChart): string {
  const f: Frame = { width: c.width ?? 760, height: c.height ?? 360, left: 64, right: 16, top: 48, bottom: 64 };
  const xs = c.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = c.series.flatMap((s) => s.points.map((p) => p[1])).filter(Number.isFinite);
  const xTicks = niceTicks(Math.max(...xs, ...(c.markers ?? []).map((m) => m.x), 1e-9));
  const yTicks = niceTicks(c.yMax ?? Math.max(...ys, 1e-9));
  const xMax = xTicks[xTicks.length - 1]!;
  const yMax = yTicks[yTicks.length - 1]!;
  const plotW = f.width - f.left - f.right;
  const plotH = f.height - f.top - f.bottom;
  const X = (x: number) => f.left + (x / xMax) * plotW;
  const Y = (y: number) => f.top + plotH - (Math.min(y, yMax) / yMax) * plotH;
  const out = [...header(f, c.title, c.subtitle), ...yAxis(f, yTicks, c.yLabel)];
  for (const t of xTicks) out.push(`<text x="${X(t).toFixed(1)}" y="${f.top + plotH + 16}" text-anchor="middle" fill="#374151">${fmt(t)}</text>`);
  out.push(`<text x="${f.left + plotW / 2}" y="${f.top + plotH + 32}" text-anchor="middle" fill="#374151">${esc(c.xLabel)}</text>`);
  out.push(`<line x1="${f.left}" x2="${f.width - f.right}" y1="${f.top + plotH}" y2="${f.top + plotH}" stroke="#9ca3af"/>`);
  for (const m of c.markers ?? []) {
    out.push(`<line x1="${X(m.x).toFixed(1)}" x2="${X(m.x).toFixed(1)}" y1="${f.top}" y2="${f.top + plotH}" stroke="#111827" stroke-dasharray="4 4"/>`);
    out.push(`<text x="${(X(m.x) + 4).toFixed(1)}" y="${f.top + 12}" font-size="11" fill="#111827">${esc(m.label)}</text>`);
  }
  c.series.forEach((s, i) => {
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (!pts.length) return;
    const d = pts.map((p, j) => `${j ? 'L' : 'M'}${X(p[0]).toFixed(1)} ${Y(p[1]).toFixed(1)}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${PALETTE[i % PALETTE.length]}" stroke-width="2"><title>${esc(s.name)}</title></path>`);
  });
  out.push(...legend(f, c.series.map((s) => s.name)), '</svg>');
  return out.filter(Boolean).join('\n') + '\n';
}

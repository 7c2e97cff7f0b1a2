// Minimal SVG charts for the Markdown report: a line chart of series (x, y) and a grouped bar chart.
// Written by hand (no browser, no dependency): every value is escaped and every coordinate is finite,
// so a chart is a pure function of its data and renders the same in any viewer.

export interface Series {
  name: string;
  points: readonly (readonly [number, number])[];
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** Logarithmic x axis (batch sizes 1..1000). */
  logX?: boolean;
  width?: number;
  height?: number;
}

export interface BarChartSpec {
  title: string;
  yLabel: string;
  /** Category labels along x. */
  categories: readonly string[];
  /** One bar per group per category; values[g][c]. */
  groups: readonly { name: string; values: readonly number[] }[];
  width?: number;
  height?: number;
}

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];

export function escapeXml(s: string): string {
  return s.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );
}

/** "Nice" tick values covering [lo, hi]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(lo: number, hi: number, target = 5): number[] {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  if (hi === lo) hi = lo + 1;
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  // From the step at or below lo to the first step at or above hi, so the axis covers every value.
  for (let v = Math.floor(lo / step) * step; ; v += step) {
    out.push(Number(v.toPrecision(12)));
    if (v >= hi - step * 1e-9) break;
  }
  return out;
}

export function fmtTick(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (a >= 1e4) return `${Number((v / 1e3).toPrecision(3))}k`;
  return String(Number(v.toPrecision(4)));
}

const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '0');

function frame(w: number, h: number, title: string, body: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" font-family="sans-serif" font-size="12">`,
    `<rect width="${w}" height="${h}" fill="white"/>`,
    `<text x="${f(w / 2)}" y="18" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
    body,
    '</svg>',
    '',
  ].join('\n');
}

export function lineChart(spec: LineChartSpec): string {
  const w = spec.width ?? 640;
  const h = spec.height ?? 360;
  const m = { l: 64, r: 150, t: 30, b: 46 };
  const pts = spec.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const tx = (x: number) => (spec.logX ? Math.log10(Math.max(x, 1e-9)) : x);
  const xs = pts.map(([x]) => tx(x));
  const ys = pts.map(([, y]) => y);
  const xTicks = spec.logX
    ? niceTicks(Math.floor(Math.min(0, ...xs)), Math.ceil(Math.max(1, ...xs)), 4).filter(Number.isInteger)
    : niceTicks(Math.min(0, ...xs), Math.max(1, ...xs));
  const yTicks = niceTicks(0, Math.max(1, ...ys));
  const [x0, x1] = [xTicks[0]!, xTicks[xTicks.length - 1]!];
  const [y0, y1] = [yTicks[0]!, yTicks[yTicks.length - 1]!];
  const px = (x: number) => m.l + ((tx(x) - x0) / (x1 - x0 || 1)) * (w - m.l - m.r);
  const py = (y: number) => h - m.b - ((y - y0) / (y1 - y0 || 1)) * (h - m.t - m.b);
  const parts: string[] = [];
  for (const t of yTicks) {
    parts.push(`<line x1="${m.l}" x2="${w - m.r}" y1="${f(py(t))}" y2="${f(py(t))}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${f(py(t) + 4)}" text-anchor="end">${fmtTick(t)}</text>`);
  }
  for (const t of xTicks) {
    const x = m.l + ((t - x0) / (x1 - x0 || 1)) * (w - m.l - m.r);
    parts.push(`<line x1="${f(x)}" x2="${f(x)}" y1="${m.t}" y2="${h - m.b}" stroke="#eee"/>`);
    parts.push(
      `<text x="${f(x)}" y="${h - m.b + 16}" text-anchor="middle">${fmtTick(spec.logX ? 10 ** t : t)}</text>`,
    );
  }
  parts.push(
    `<rect x="${m.l}" y="${m.t}" width="${w - m.l - m.r}" height="${h - m.t - m.b}" fill="none" stroke="#333"/>`,
  );
  parts.push(
    `<text x="${f((m.l + w - m.r) / 2)}" y="${h - 8}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
  );
  parts.push(
    `<text transform="translate(14 ${f((m.t + h - m.b) / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
  );
  spec.series.forEach((s, i) => {
    const c = PALETTE[i % PALETTE.length]!;
    // Sorted by x: a knee search visits loads out of order, and the line must not zigzag back.
    const ok = s.points
      .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y))
      .sort((a, b) => a[0] - b[0]);
    if (ok.length > 1)
      parts.push(
        `<polyline fill="none" stroke="${c}" stroke-width="2" points="${ok.map(([x, y]) => `${f(px(x))},${f(py(y))}`).join(' ')}"/>`,
      );
    for (const [x, y] of ok) parts.push(`<circle cx="${f(px(x))}" cy="${f(py(y))}" r="3" fill="${c}"/>`);
    const ly = m.t + 10 + i * 18;
    parts.push(`<rect x="${w - m.r + 10}" y="${ly - 8}" width="12" height="10" fill="${c}"/>`);
    parts.push(`<text x="${w - m.r + 28}" y="${ly + 1}">${escapeXml(s.name)}</text>`);
  });
  return frame(w, h, spec.title, parts.join('\n'));
}

export function barChart(spec: BarChartSpec): string {
  const w = spec.width ?? 640;
  const h = spec.height ?? 360;
  const m = { l: 64, r: 150, t: 30, b: 46 };
  const all = spec.groups.flatMap((g) => g.values).filter(Number.isFinite);
  const yTicks = niceTicks(0, Math.max(1, ...all));
  const y1 = yTicks[yTicks.length - 1]!;
  const py = (y: number) => h - m.b - (y / (y1 || 1)) * (h - m.t - m.b);
  const plotW = w - m.l - m.r;
  const slot = plotW / Math.max(1, spec.categories.length);
  const bw = (slot * 0.8) / Math.max(1, spec.groups.length);
  const parts: string[] = [];
  for (const t of yTicks) {
    parts.push(`<line x1="${m.l}" x2="${w - m.r}" y1="${f(py(t))}" y2="${f(py(t))}" stroke="#ddd"/>`);
    parts.push(`<text x="${m.l - 6}" y="${f(py(t) + 4)}" text-anchor="end">${fmtTick(t)}</text>`);
  }
  spec.categories.forEach((cat, ci) => {
    const cx = m.l + slot * ci + slot * 0.1;
    parts.push(
      `<text x="${f(m.l + slot * (ci + 0.5))}" y="${h - m.b + 16}" text-anchor="middle">${escapeXml(cat)}</text>`,
    );
    spec.groups.forEach((g, gi) => {
      const v = g.values[ci];
      if (v === undefined || !Number.isFinite(v)) return;
      parts.push(
        `<rect x="${f(cx + gi * bw)}" y="${f(py(v))}" width="${f(bw - 1)}" height="${f(py(0) - py(v))}" fill="${PALETTE[gi % PALETTE.length]}"/>`,
      );
    });
  });
  parts.push(
    `<rect x="${m.l}" y="${m.t}" width="${plotW}" height="${h - m.t - m.b}" fill="none" stroke="#333"/>`,
  );
  parts.push(
    `<text transform="translate(14 ${f((m.t + h - m.b) / 2)}) rotate(-90)" text-anchor="middle">${escapeXml(spec.yLabel)}</text>`,
  );
  spec.groups.forEach((g, i) => {
    const ly = m.t + 10 + i * 18;
    parts.push(
      `<rect x="${w - m.r + 10}" y="${ly - 8}" width="12" height="10" fill="${PALETTE[i % PALETTE.length]}"/>`,
    );
    parts.push(`<text x="${w - m.r + 28}" y="${ly + 1}">${escapeXml(g.name)}</text>`);
  });
  return frame(w, h, spec.title, parts.join('\n'));
}

// One uPlot line chart per vital sign, with the alert thresholds drawn as bands: the normal range
// shaded green, the alerting regions above and below shaded red, so a reading's position relative to
// the thresholds is visible without reading numbers.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { h } from './dom.ts';
import { withGaps } from './series.ts';
import { DEFAULT_THRESHOLDS } from '@vigil/consensus/vitals/index.ts';
import { KIND_LABELS, physical } from './format.ts';

export interface Series {
  kind: number;
  /** ms since epoch */
  times: number[];
  /** wire values */
  values: number[];
  /** The window shown, ms (the x axis spans it even when readings cover only part of it). */
  from: number;
  to: number;
}

function bandsPlugin(kind: number): uPlot.Plugin {
  const t = DEFAULT_THRESHOLDS[kind];
  return {
    hooks: {
      drawClear: [
        (u: uPlot) => {
          if (!t) return;
          const { ctx } = u;
          const { left, top, width, height } = u.bbox;
          const y = (v: number) => u.valToPos(physical(kind, v), 'y', true);
          const clampY = (p: number) => Math.min(top + height, Math.max(top, p));
          const yHigh = clampY(y(t.high));
          const yLow = clampY(y(t.low));
          ctx.save();
          ctx.fillStyle = 'rgba(200, 30, 30, 0.10)';
          ctx.fillRect(left, top, width, yHigh - top);
          ctx.fillRect(left, yLow, width, top + height - yLow);
          ctx.fillStyle = 'rgba(20, 140, 60, 0.10)';
          ctx.fillRect(left, yHigh, width, yLow - yHigh);
          ctx.restore();
        },
      ],
    },
  };
}

export function vitalChart(s: Series, width: number): { el: HTMLElement; plot: uPlot } {
  const label = KIND_LABELS[s.kind] ?? `Kind ${s.kind}`;
  const box = h('figure', { class: 'chart', 'aria-label': `${label} chart` });
  const t = DEFAULT_THRESHOLDS[s.kind];
  const ys = s.values.map((v) => physical(s.kind, v));
  // Keep both thresholds in view so the bands always show.
  const lo = Math.min(...ys, t ? physical(s.kind, t.low) : Number.POSITIVE_INFINITY);
  const hi = Math.max(...ys, t ? physical(s.kind, t.high) : Number.NEGATIVE_INFINITY);
  const pad = Math.max(1, (hi - lo) * 0.1);
  const opts: uPlot.Options = {
    title: label,
    width,
    height: 160,
    legend: { show: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true, range: [s.from / 1000, s.to / 1000] }, y: { range: [lo - pad, hi + pad] } },
    axes: [
      { stroke: '#333', size: 30 },
      { stroke: '#333', size: 44 },
    ],
    series: [{}, { label, stroke: '#0b5cad', width: 1.5, points: { show: s.times.length < 60 } }],
    plugins: [bandsPlugin(s.kind)],
  };
  const [xs, gapped] = withGaps(s.times, ys);
  const plot = new uPlot(opts, [xs, gapped], box);
  const last = s.values.length;
  box.appendChild(
    h(
      'figcaption',
      { class: 'sr-only' },
      `${label}: ${last} readings; thresholds ${t ? `${physical(s.kind, t.low)} to ${physical(s.kind, t.high)}` : 'none'}.`,
    ),
  );
  return { el: box, plot };
}

/**
 * The sweep figure: the validation metric of every point, as the paper's robustness plots show it —
 * the mean over seeds (a dot), the spread (a bar of mean ± one standard deviation) and each seed's
 * own value (small grey dots). The winning point is ringed.
 */
import { el, formatValue, round, svgDocument, text } from '../plots/svg.ts';

export interface PlotPoint {
  label: string;
  /** Finished seeds' values (failed seeds are left out). */
  values: number[];
  mean: number | null;
  std: number | null;
}

const MARGIN = { left: 64, right: 24, top: 40 };
const PLOT_HEIGHT = 260;
const STEP = 56;

export function sweepPlot(points: readonly PlotPoint[], o: { metric: string; seeds: number; best: number | null }): string {
  const all = points.flatMap((p) => [...p.values, ...(p.mean === null || p.std === null ? [] : [p.mean - p.std, p.mean + p.std])]);
  let [lo, hi] =
    all.length > 0 ? [all.reduce((m, v) => Math.min(m, v), Infinity), all.reduce((m, v) => Math.max(m, v), -Infinity)] : [0, 1];
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const pad = (hi - lo) * 0.08;
  [lo, hi] = [lo - pad, hi + pad];
  const labelRoom = 12 + 6 * points.reduce((m, p) => Math.max(m, p.label.length), 0);
  const title = `validation ${o.metric} per point: mean ± std over ${o.seeds} seed${o.seeds === 1 ? '' : 's'} (grey: each seed)`;
  // Labels run down-right at 40°: the last one needs cos(40°) of its length to the right of the axis.
  const width = Math.max(MARGIN.left + STEP * points.length + labelRoom * 0.77, MARGIN.left + 7 * title.length) + MARGIN.right;
  const height = MARGIN.top + PLOT_HEIGHT + labelRoom * 0.65 + 20;
  const x = (i: number) => MARGIN.left + STEP * (i + 0.5);
  const y = (v: number) => MARGIN.top + PLOT_HEIGHT * (1 - (v - lo) / (hi - lo));

  const body: string[] = [
    text(MARGIN.left, 20, title, { 'font-size': 13 }),
    el('line', { x1: MARGIN.left, y1: MARGIN.top, x2: MARGIN.left, y2: MARGIN.top + PLOT_HEIGHT, stroke: '#000' }),
    el('line', {
      x1: MARGIN.left,
      y1: MARGIN.top + PLOT_HEIGHT,
      x2: MARGIN.left + STEP * points.length,
      y2: MARGIN.top + PLOT_HEIGHT,
      stroke: '#000',
    }),
  ];
  for (let t = 0; t <= 4; t++) {
    const v = lo + ((hi - lo) * t) / 4;
    body.push(
      el('line', { x1: MARGIN.left - 4, y1: round(y(v)), x2: MARGIN.left + STEP * points.length, y2: round(y(v)), stroke: '#ddd' }),
    );
    body.push(text(MARGIN.left - 6, y(v) + 4, formatValue(v), { 'text-anchor': 'end' }));
  }
  points.forEach((p, i) => {
    const cx = round(x(i));
    if (p.mean !== null && p.std !== null) {
      body.push(
        el('line', {
          class: 'spread',
          x1: cx,
          y1: round(y(p.mean - p.std)),
          x2: cx,
          y2: round(y(p.mean + p.std)),
          stroke: '#1f77b4',
          'stroke-width': 2,
        }),
      );
      body.push(
        el('circle', { class: 'mean', cx, cy: round(y(p.mean)), r: 4, fill: '#1f77b4' }, el('title', {}, `${p.label}: mean ${p.mean}`)),
      );
    }
    for (const v of p.values) body.push(el('circle', { class: 'seed', cx: round(cx + 8), cy: round(y(v)), r: 2, fill: '#888' }));
    if (o.best === i && p.mean !== null)
      body.push(el('circle', { class: 'best', cx, cy: round(y(p.mean)), r: 8, fill: 'none', stroke: '#d62728', 'stroke-width': 2 }));
    const ly = MARGIN.top + PLOT_HEIGHT + 10;
    body.push(text(cx, ly, p.label, { transform: `rotate(40 ${cx} ${ly})`, 'text-anchor': 'start' }));
  });
  return svgDocument(width, height, title, body);
}

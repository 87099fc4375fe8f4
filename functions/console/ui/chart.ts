/** Line charts as plain SVG (no library: a few series at most, a few hundred points). */
import { type Box, ema, formatTick, type Point, scaleAll } from './chart-geometry.ts';
import { s } from './dom.ts';

const W = 560;
const H = 220;
const BOX: Box = { left: 52, top: 12, width: W - 64, height: H - 44 };

export interface ChartOptions {
  title: string;
  /** The curve drawn in full. */
  points: readonly Point[];
  /** The raw curve `points` smooths, drawn faint behind it (its count is the chart's data-points). */
  raw?: readonly Point[];
  xLabel: string;
  yLabel: string;
  testId?: string;
  /** One point marked on the curve (the selected checkpoint), with its label. */
  marker?: { point: Point; label: string };
}

export function lineChart(o: ChartOptions): SVGElement {
  const g = scaleAll([o.raw ?? [], o.points, o.marker ? [o.marker.point] : []], BOX);
  const [rawPath, path, markerPath] = g.paths;
  // The marker's one-point path is "M<x>,<y>": where its circle goes.
  const at = /^M([-\d.]+),([-\d.]+)$/.exec(markerPath);
  const bottom = BOX.top + BOX.height;
  const last = (o.raw ?? o.points).at(-1);
  const count = (o.raw ?? o.points).length;
  const summary = last ? `${count} points; last ${o.yLabel} ${formatTick(last.y)} at ${o.xLabel} ${last.x}` : 'no data yet';
  return s(
    'svg',
    {
      viewBox: `0 0 ${W} ${H}`,
      class: 'chart',
      role: 'img',
      'aria-label': `${o.title}: ${summary}`,
      'data-testid': o.testId,
      'data-points': count,
    },
    s('title', {}, o.title),
    g.yTicks.map((t) => [
      s('line', { x1: BOX.left, x2: BOX.left + BOX.width, y1: t.at, y2: t.at, class: 'grid' }),
      s('text', { x: BOX.left - 6, y: t.at + 4, 'text-anchor': 'end' }, formatTick(t.value)),
    ]),
    g.xTicks.map((t) => s('text', { x: t.at, y: bottom + 16, 'text-anchor': 'middle' }, formatTick(t.value))),
    s('line', { x1: BOX.left, x2: BOX.left + BOX.width, y1: bottom, y2: bottom, class: 'axis' }),
    s('text', { x: BOX.left + BOX.width / 2, y: H - 4, 'text-anchor': 'middle', class: 'label' }, o.xLabel),
    rawPath ? s('path', { d: rawPath, class: 'raw' }) : null,
    path ? s('path', { d: path, class: 'line' }) : s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no data yet'),
    o.marker && at
      ? s('circle', { cx: at[1], cy: at[2], r: 4.5, class: 'marker', 'data-x': o.marker.point.x }, s('title', {}, o.marker.label))
      : null,
  );
}

/** The training loss: its moving average over the raw per-step values, drawn faint behind. */
export function lossChart(title: string, raw: readonly Point[], testId = 'loss-chart'): SVGElement {
  return lineChart({ title, points: ema(raw), raw, xLabel: 'step', yLabel: 'loss (smoothed)', testId });
}

/** A line chart as plain SVG (no library: two series at most, a few hundred points). */
import { type Box, formatTick, type Point, scale } from './chart-geometry.ts';
import { s } from './dom.ts';

const W = 560;
const H = 220;
const BOX: Box = { left: 52, top: 12, width: W - 64, height: H - 44 };

export function lineChart(o: { title: string; points: readonly Point[]; xLabel: string; yLabel: string; testId?: string }): SVGElement {
  const g = scale(o.points, BOX);
  const bottom = BOX.top + BOX.height;
  const last = o.points.at(-1);
  const summary = last ? `${o.points.length} points; last ${o.yLabel} ${formatTick(last.y)} at ${o.xLabel} ${last.x}` : 'no data yet';
  return s(
    'svg',
    {
      viewBox: `0 0 ${W} ${H}`,
      class: 'chart',
      role: 'img',
      'aria-label': `${o.title}: ${summary}`,
      'data-testid': o.testId,
      'data-points': o.points.length,
    },
    s('title', {}, o.title),
    g.yTicks.map((t) => [
      s('line', { x1: BOX.left, x2: BOX.left + BOX.width, y1: t.at, y2: t.at, class: 'grid' }),
      s('text', { x: BOX.left - 6, y: t.at + 4, 'text-anchor': 'end' }, formatTick(t.value)),
    ]),
    g.xTicks.map((t) => s('text', { x: t.at, y: bottom + 16, 'text-anchor': 'middle' }, formatTick(t.value))),
    s('line', { x1: BOX.left, x2: BOX.left + BOX.width, y1: bottom, y2: bottom, class: 'axis' }),
    s('text', { x: BOX.left + BOX.width / 2, y: H - 4, 'text-anchor': 'middle', class: 'label' }, o.xLabel),
    g.path ? s('path', { d: g.path, class: 'line' }) : s('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'no data yet'),
  );
}

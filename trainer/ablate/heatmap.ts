/**
 * The ablation heat map in the layout of the paper's figure: rows = first removed layer, columns = last
 * removed layer, one cell per span (upper triangle), coloured by the metric with its value printed in it.
 * The colour scale runs from the worst to the best value shown (the unablated value included), so
 * "removing these layers costs little" reads as a colour close to the unablated one in the legend.
 */
import { el, formatValue, round, svgDocument, text, textColourOn, viridis } from '../plots/svg.ts';
import type { LayerSpan } from './ablation.ts';

const CELL = 44;
const LEFT = 84;
const TOP = 56;

export function ablationHeatmap(
  spans: readonly (LayerSpan & { value: number })[],
  o: { numLayers: number; metric: string; unablated: number },
): string {
  const n = o.numLayers;
  const values = [...spans.map((s) => s.value), o.unablated];
  const lo = values.reduce((m, v) => Math.min(m, v), Infinity);
  const hi = values.reduce((m, v) => Math.max(m, v), -Infinity);
  const t = (v: number) => (hi > lo ? (v - lo) / (hi - lo) : 1);
  const legendX = LEFT + n * CELL + 28;
  const width = Math.max(legendX + 90, 480);
  const height = TOP + n * CELL + 48;

  const title = `validation ${o.metric} with the adapters of layers first..last removed`;
  const body: string[] = [
    text(LEFT, 20, title, { 'font-size': 13 }),
    text(LEFT, 38, `no adapters removed: ${formatValue(o.unablated)}`),
    text(LEFT + (n * CELL) / 2, TOP + n * CELL + 36, 'last removed layer', { 'text-anchor': 'middle' }),
    text(18, TOP + (n * CELL) / 2, 'first removed layer', {
      'text-anchor': 'middle',
      transform: `rotate(-90 18 ${round(TOP + (n * CELL) / 2)})`,
    }),
  ];
  for (let l = 0; l < n; l++) {
    body.push(text(LEFT + (l + 0.5) * CELL, TOP + n * CELL + 16, String(l), { 'text-anchor': 'middle' }));
    body.push(text(LEFT - 8, TOP + (l + 0.5) * CELL + 4, String(l), { 'text-anchor': 'end' }));
  }
  for (const s of spans) {
    const x = LEFT + s.last * CELL;
    const y = TOP + s.first * CELL;
    body.push(
      el(
        'rect',
        { class: 'cell', x, y, width: CELL, height: CELL, fill: viridis(t(s.value)), stroke: '#fff' },
        el('title', {}, `layers ${s.first}-${s.last} removed: ${s.value}`),
      ),
    );
    body.push(
      text(x + CELL / 2, y + CELL / 2 + 4, formatValue(s.value), {
        'text-anchor': 'middle',
        fill: textColourOn(t(s.value)),
        'font-size': 10,
      }),
    );
  }
  // Colour bar: best at the top, worst at the bottom.
  const steps = 20;
  const barHeight = n * CELL;
  for (let k = 0; k < steps; k++) {
    const y = TOP + (barHeight * k) / steps;
    body.push(el('rect', { x: legendX, y: round(y), width: 14, height: round(barHeight / steps + 0.5), fill: viridis(1 - k / steps) }));
  }
  body.push(text(legendX + 18, TOP + 8, formatValue(hi)));
  body.push(text(legendX + 18, TOP + barHeight, formatValue(lo)));
  return svgDocument(width, height, title, body);
}

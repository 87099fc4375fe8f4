/**
 * The validation metric by step, drawn beside the training loss on the job and adapter pages: every
 * evaluation from a published metrics.json (the selected checkpoint marked), else what the job's
 * `evaluation` events have shown so far.
 */
import { lineChart } from './chart.ts';
import type { Point } from './chart-geometry.ts';
import { h } from './dom.ts';
import { type EventLike, metricOf, validationPoints } from './job-events.ts';
import type { TrainMetricsFile } from './types.ts';

/** The selection metric at each evaluation of metrics.json (null when it has none). */
function publishedCurve(m: TrainMetricsFile | null): { metric: string; points: Point[] } | null {
  const metric = m?.metric;
  if (!metric || !m?.validation?.length) return null;
  return {
    metric,
    points: m.validation.flatMap((v) => (metricOf(v, metric) === undefined ? [] : [{ x: v.step, y: metricOf(v, metric)! }])),
  };
}

/** The published (selected) checkpoint on the curve. */
function selectedPoint(m: TrainMetricsFile | null): { point: Point; label: string } | undefined {
  const best = m?.best;
  const y = best && m?.metric ? metricOf(best, m.metric) : undefined;
  return best && y !== undefined ? { point: { x: best.step, y }, label: `selected checkpoint (published): step ${best.step}` } : undefined;
}

/** A figure's caption and chart (data-testid "validation-chart"). */
export function validationChart(of: string, published: TrainMetricsFile | null, events: readonly EventLike[] = []): Node[] {
  const curve = publishedCurve(published) ?? validationPoints(events);
  const name = curve.metric ?? 'metric';
  const marker = selectedPoint(published);
  return [
    h('figcaption', {}, `Validation ${name}`, marker ? ' (● the selected checkpoint)' : ''),
    lineChart({
      title: `Validation ${name} of ${of}`,
      points: curve.points,
      xLabel: 'step',
      yLabel: name,
      testId: 'validation-chart',
      marker,
    }),
  ];
}

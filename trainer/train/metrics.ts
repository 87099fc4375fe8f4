/**
 * Classification metrics from logits: mean cross-entropy, accuracy, macro-F1 and Matthews correlation
 * (CoLA's metric; the multi-class form of Gorodkin 2004, equal to the binary MCC for two classes).
 */
import type { JobMetrics } from '../../shared/job.ts';
import { METRIC_FIELDS, type SelectionMetric } from '../../shared/vocabulary.ts';

/** What an evaluation measures (the same fields a job's status.json reports). */
export type EvalMetrics = JobMetrics;

/** A selection metric's value: `loss` is minimised, the others maximised. */
export function metricValue(m: EvalMetrics, metric: SelectionMetric): number {
  return m[METRIC_FIELDS[metric]];
}

/** True when `a` is strictly better than `b` on `metric`. */
export function isBetter(a: EvalMetrics, b: EvalMetrics | null, metric: SelectionMetric): boolean {
  if (!b) return true;
  const [x, y] = [metricValue(a, metric), metricValue(b, metric)];
  return metric === 'loss' ? x < y : x > y;
}

/** Accumulates a confusion matrix and the loss over batches of logits ([rows, numLabels] row-major). */
export class MetricsAccumulator {
  private lossSum = 0;
  private count = 0;
  /** confusion[truth * c + predicted] */
  private readonly confusion: Float64Array;

  constructor(private readonly numLabels: number) {
    this.confusion = new Float64Array(numLabels * numLabels);
  }

  add(logits: Float32Array, labels: ArrayLike<bigint | number>): void {
    const c = this.numLabels;
    for (let r = 0; r < labels.length; r++) {
      const row = logits.subarray(r * c, (r + 1) * c);
      const label = Number(labels[r]);
      let max = -Infinity;
      let argmax = 0;
      for (let k = 0; k < c; k++) if (row[k] > max) [max, argmax] = [row[k], k];
      let sumExp = 0;
      for (let k = 0; k < c; k++) sumExp += Math.exp(row[k] - max);
      this.lossSum += Math.log(sumExp) + max - row[label];
      this.confusion[label * c + argmax]++;
      this.count++;
    }
  }

  result(): EvalMetrics {
    return { loss: this.lossSum / this.count, ...confusionMetrics(this.confusion, this.numLabels), examples: this.count };
  }
}

/** Accuracy, macro-F1 and MCC of a confusion matrix (rows: truth, columns: prediction). */
export function confusionMetrics(confusion: ArrayLike<number>, c: number): { accuracy: number; macroF1: number; mcc: number } {
  const truth = new Float64Array(c);
  const predicted = new Float64Array(c);
  let correct = 0;
  let n = 0;
  for (let t = 0; t < c; t++) {
    for (let p = 0; p < c; p++) {
      const v = confusion[t * c + p];
      truth[t] += v;
      predicted[p] += v;
      n += v;
      if (t === p) correct += v;
    }
  }
  let f1Sum = 0;
  for (let k = 0; k < c; k++) {
    const tp = confusion[k * c + k];
    const denom = truth[k] + predicted[k];
    f1Sum += denom > 0 ? (2 * tp) / denom : 0; // sklearn's zero_division=0
  }
  let sumTP = 0,
    sumTT = 0,
    sumPP = 0;
  for (let k = 0; k < c; k++) {
    sumTP += truth[k] * predicted[k];
    sumTT += truth[k] * truth[k];
    sumPP += predicted[k] * predicted[k];
  }
  const denom = Math.sqrt(n * n - sumPP) * Math.sqrt(n * n - sumTT);
  return { accuracy: n > 0 ? correct / n : 0, macroF1: f1Sum / c, mcc: denom > 0 ? (correct * n - sumTP) / denom : 0 };
}

/** Softmax of one row of logits, in float64. */
export function softmaxRow(row: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let k = 0; k < row.length; k++) max = Math.max(max, row[k]);
  const e = Array.from(row, (v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

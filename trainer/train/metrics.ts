/** Classification metrics from logits: mean cross-entropy and accuracy. */

export interface EvalMetrics {
  loss: number;
  accuracy: number;
  examples: number;
}

/** Accumulates metrics over batches of logits ([rows, numLabels] row-major) and integer labels. */
export class MetricsAccumulator {
  private lossSum = 0;
  private correct = 0;
  private count = 0;

  constructor(private readonly numLabels: number) {}

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
      if (argmax === label) this.correct++;
      this.count++;
    }
  }

  result(): EvalMetrics {
    return { loss: this.lossSum / this.count, accuracy: this.correct / this.count, examples: this.count };
  }
}

/** Softmax of one row of logits, in float64. */
export function softmaxRow(row: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let k = 0; k < row.length; k++) max = Math.max(max, row[k]);
  const e = Array.from(row, (v) => Math.exp(v - max));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

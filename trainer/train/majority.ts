/**
 * The majority-class baseline of a validation set (shared/majority-baseline.ts): scored with the same
 * confusion-matrix metrics an evaluation uses, as if every row were answered with the most frequent label.
 */
import type { MajorityBaseline } from '../../shared/majority-baseline.ts';
import { argmax } from '../util/argmax.ts';
import { confusionMetrics } from './metrics.ts';

/** `labelIndices`: each validation row's label index into `labels`. Null when there are no rows. */
export function majorityBaseline(labelIndices: readonly number[], labels: readonly string[]): MajorityBaseline | null {
  if (labelIndices.length === 0 || labels.length === 0) return null;
  const counts = new Array<number>(labels.length).fill(0);
  for (const i of labelIndices) counts[i]++;
  const majority = argmax(counts);
  // Every row predicted as the majority label: only that column of the confusion matrix is filled.
  const c = labels.length;
  const confusion = new Float64Array(c * c);
  for (let t = 0; t < c; t++) confusion[t * c + majority] = counts[t];
  const { accuracy, macroF1, mcc } = confusionMetrics(confusion, c);
  return { label: labels[majority], rate: counts[majority] / labelIndices.length, accuracy, macroF1, mcc, examples: labelIndices.length };
}

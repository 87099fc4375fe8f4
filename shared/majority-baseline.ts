/**
 * The majority-class guardrail: what always answering the validation set's most frequent label scores,
 * and the check that a trained adapter beats it. An adapter that does not has learned nothing a
 * constant answer would not give; the job still publishes it, but its events, status and manifest say so.
 * The trainer computes the baseline (trainer/train/majority.ts); run-job, the sweep reduce and the
 * console read these types.
 */
import { z } from '@hono/zod-openapi';
import { METRIC_FIELDS, SCORE_METRICS, type SelectionMetric } from './vocabulary.ts';

/** What the majority-class predictor scores on the validation set. */
export interface MajorityBaseline {
  /** The most frequent validation label (the first of those tied). */
  label: string;
  /** Its share of the validation rows: the majority-class predictor's accuracy. */
  rate: number;
  accuracy: number;
  macroF1: number;
  mcc: number;
  examples: number;
}

/** A selected validation score that is not above the majority-class predictor's (status.json, manifest.json, metrics.json, the API). */
export const BelowMajoritySchema = z
  .object({
    metric: z
      .enum(SCORE_METRICS)
      .openapi({ description: 'The metric compared: the selection metric, or accuracy when the job selects on loss.' }),
    score: z.number().openapi({ description: "The selected checkpoint's validation score on `metric`." }),
    majorityScore: z.number().openapi({ description: 'What always answering `majorityLabel` scores on `metric`.' }),
    majorityLabel: z.string(),
    majorityRate: z.number().openapi({ description: "The majority label's share of the validation rows." }),
    message: z.string(),
  })
  .openapi('BelowMajority', {
    description:
      'Set when the selected validation score is not above the majority-class predictor: the adapter was published but has learned no more than the most frequent label.',
  });
export type BelowMajority = z.infer<typeof BelowMajoritySchema>;

/** The metrics the check reads (a job's best evaluation). */
export interface ScoredMetrics {
  accuracy: number;
  macroF1: number;
  mcc: number;
}

const NAMES: Record<BelowMajority['metric'], string> = { accuracy: 'accuracy', f1: 'macro-F1', mcc: 'MCC' };

/**
 * The comparison metric for a selection metric. A loss has no majority-class value to compare against
 * (the constant one-hot answer's cross-entropy is infinite), so a job selected on loss is checked on accuracy.
 */
export function comparedMetric(metric: SelectionMetric): BelowMajority['metric'] {
  return metric === 'loss' ? 'accuracy' : metric;
}

function scoreOn(m: ScoredMetrics, metric: BelowMajority['metric']): number {
  return m[METRIC_FIELDS[metric]];
}

/** The guardrail's verdict: null when the selected score is above the baseline (or there is nothing to compare). */
export function belowMajority(
  selected: ScoredMetrics | null,
  baseline: MajorityBaseline | null | undefined,
  metric: SelectionMetric,
): BelowMajority | null {
  if (!selected || !baseline) return null;
  const compared = comparedMetric(metric);
  const score = scoreOn(selected, compared);
  const majorityScore = scoreOn(baseline, compared);
  if (score > majorityScore) return null;
  const name = NAMES[compared];
  const pct = (x: number) => `${(100 * x).toFixed(1)} %`;
  const message =
    `the selected validation ${name} ${score.toFixed(4)} is not above what always answering "${baseline.label}" scores ` +
    `(${majorityScore.toFixed(4)}; "${baseline.label}" is ${pct(baseline.rate)} of the validation rows): ` +
    'the adapter has not learned more than the majority class (try more data or epochs, another learning rate, or balanced labels)';
  return { metric: compared, score, majorityScore, majorityLabel: baseline.label, majorityRate: baseline.rate, message };
}

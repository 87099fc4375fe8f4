/**
 * How many classes a classifier may have and how long a class name may be. Every label ends up in the
 * adapter's head, its config, its manifest and every predict answer: 200,000 distinct labels made a
 * 104 MB adapter from a 2-step job. One rule, checked at POST /datasets, in the job schema and in the
 * trainer; ADAPTER_STORE_MAX_LABELS and ADAPTER_STORE_MAX_LABEL_CHARS set it (in every process that
 * checks: the API and the trainer read the same variables).
 */
import { type Env, integer } from '../env.ts';

export interface LabelLimits {
  /** Distinct labels (classes) at most. */
  maxLabels: number;
  /** Characters per label at most. */
  maxLabelChars: number;
}

export const DEFAULT_LABEL_LIMITS: Readonly<LabelLimits> = { maxLabels: 1000, maxLabelChars: 256 };

export const LABEL_LIMIT_ENV = { maxLabels: 'ADAPTER_STORE_MAX_LABELS', maxLabelChars: 'ADAPTER_STORE_MAX_LABEL_CHARS' } as const;

/** The limits from the environment (positive integers), the defaults for what is unset. */
export function labelLimitsFromEnv(env: Env = processEnv()): LabelLimits {
  const read = (field: keyof LabelLimits): number => integer(env, LABEL_LIMIT_ENV[field], { min: 1 }, DEFAULT_LABEL_LIMITS[field]);
  return { maxLabels: read('maxLabels'), maxLabelChars: read('maxLabelChars') };
}

/** (The job schema is also bundled for the browser, which has no process.) */
function processEnv(): Env {
  return (globalThis as { process?: { env: Env } }).process?.env ?? {};
}

/** Why a label name is refused, or null. */
export function labelNameProblem(label: string, limits: LabelLimits): string | null {
  if (label.length > limits.maxLabelChars)
    return `label of ${label.length} characters ("${label.slice(0, 32)}..."), over the limit of ${limits.maxLabelChars} (${LABEL_LIMIT_ENV.maxLabelChars})`;
  return null;
}

/** Why `count` classes are refused, or null. */
export function labelCountProblem(count: number, limits: LabelLimits): string | null {
  if (count > limits.maxLabels) return `more than ${limits.maxLabels} distinct labels, the limit (${LABEL_LIMIT_ENV.maxLabels})`;
  return null;
}

/** The first problem of a given label list with its index (-1: the list as a whole), or null. */
export function labelListProblem(labels: readonly string[], limits: LabelLimits): { index: number; reason: string } | null {
  const count = labelCountProblem(labels.length, limits);
  if (count) return { index: -1, reason: count };
  for (let i = 0; i < labels.length; i++) {
    const reason = labelNameProblem(labels[i], limits);
    if (reason) return { index: i, reason };
  }
  return null;
}

/**
 * The label set of a classification run: given (--labels, or a warm-start adapter's) or taken from the
 * data, with every row's label checked against it before training starts.
 */
import { DataError } from '../../shared/training-data/errors.ts';
import {
  LABEL_LIMIT_ENV,
  type LabelLimits,
  labelCountProblem,
  labelLimitsFromEnv,
  labelListProblem,
  labelNameProblem,
} from '../../shared/training-data/label-limits.ts';
import type { TokenizedRow } from '../../shared/training-data/rows.ts';

export interface LabelSet {
  labels: string[];
  labelIndex: (row: TokenizedRow) => number;
}

function labelsFromData(rows: readonly TokenizedRow[], source: string, limits: LabelLimits): string[] {
  const first = rows.find((r) => r.label !== null);
  if (!first) throw new DataError(`${source}: no row has a label`);
  const integers = typeof first.label === 'number';
  let max = 0;
  const names = new Set<string>();
  for (const r of rows) {
    if (r.label === null) continue;
    // Mixed kinds are ambiguous without --labels: is 1 the index 1 or the name "1"?
    if ((typeof r.label === 'number') !== integers) {
      throw new DataError(
        `${source}:${r.line}: label ${JSON.stringify(r.label)} is ${integers ? 'a string' : 'an integer'} but line ${first.line} has ${integers ? 'an integer' : 'a string'}; use one kind, or pass --labels`,
      );
    }
    if (typeof r.label === 'number') {
      // Integers beyond the limit are almost surely not class indices (and would allocate a huge head).
      if (r.label >= limits.maxLabels)
        throw new DataError(
          `${source}:${r.line}: integer label ${r.label} means ${r.label + 1} classes, over the limit of ${limits.maxLabels} (${LABEL_LIMIT_ENV.maxLabels}); pass --labels or use names`,
        );
      if (r.label > max) max = r.label;
    } else if (!names.has(r.label)) {
      const problem = labelNameProblem(r.label, limits) ?? labelCountProblem(names.size + 1, limits);
      if (problem) throw new DataError(`${source}:${r.line}: ${problem}`);
      names.add(r.label);
    }
  }
  const labels = integers ? Array.from({ length: max + 1 }, (_, i) => String(i)) : [...names].sort();
  if (labels.length < 2)
    throw new DataError(`${source}: only one label (${JSON.stringify(labels[0])}) occurs; a classifier needs at least two (pass --labels)`);
  return labels;
}

/**
 * The classes: given (`--labels`, or a warm-start adapter's), or taken from the data — integers mean
 * classes 0..max, strings the sorted distinct set. With a given list a string label must be one of
 * its names and an integer label an index into it. Every row is checked here, before training.
 * `source` (the file) prefixes messages.
 */
export function resolveLabels(
  rows: readonly TokenizedRow[],
  given?: readonly string[],
  source = 'data',
  limits: LabelLimits = labelLimitsFromEnv(),
): LabelSet {
  let labels: string[];
  if (given) {
    labels = [...given];
    const problem = labelListProblem(labels, limits);
    if (problem) throw new DataError(`--labels: ${problem.index < 0 ? '' : `label ${problem.index + 1}: `}${problem.reason}`);
    if (labels.length < 2) throw new DataError(`--labels: need at least two labels, got ${JSON.stringify(labels)}`);
    if (labels.some((l) => l.length === 0)) throw new DataError(`--labels: empty label name in ${JSON.stringify(labels)}`);
    if (new Set(labels).size !== labels.length) throw new DataError(`--labels: duplicate label names in ${JSON.stringify(labels)}`);
  } else {
    labels = labelsFromData(rows, source, limits);
  }
  const index = new Map(labels.map((l, i) => [l, i]));
  const labelIndex = (row: TokenizedRow): number => {
    const l = row.label;
    if (l === null) throw new DataError(`${source}:${row.line}: missing field "label"`);
    if (typeof l === 'number') {
      if (l < labels.length) return l;
      throw new DataError(
        `${source}:${row.line}: integer label ${l} is not a class index in [0, ${labels.length}) of the label set ${JSON.stringify(labels)}`,
      );
    }
    const k = index.get(l);
    if (k === undefined)
      throw new DataError(`${source}:${row.line}: label ${JSON.stringify(l)} is not in the label set ${JSON.stringify(labels)}`);
    return k;
  };
  for (const r of rows) labelIndex(r); // fail before training, not at step 500
  return { labels, labelIndex };
}

/**
 * The label set of a classification run: given (--labels, or a warm-start adapter's) or taken from the
 * data, with every row's label checked against it before training starts.
 */
import { DataError } from '../../shared/training-data/errors.ts';
import type { TokenizedRow } from '../../shared/training-data/rows.ts';

export interface LabelSet {
  labels: string[];
  labelIndex: (row: TokenizedRow) => number;
}

/** Integer labels beyond this are almost surely not class indices (and would allocate a huge head). */
const MAX_INTEGER_CLASSES = 100_000;

function labelsFromData(rows: readonly TokenizedRow[], source: string): string[] {
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
      if (r.label >= MAX_INTEGER_CLASSES)
        throw new DataError(
          `${source}:${r.line}: integer label ${r.label} is too large for a class index (limit ${MAX_INTEGER_CLASSES}); pass --labels or use names`,
        );
      if (r.label > max) max = r.label;
    } else names.add(r.label);
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
export function resolveLabels(rows: readonly TokenizedRow[], given?: readonly string[], source = 'data'): LabelSet {
  let labels: string[];
  if (given) {
    labels = [...given];
    if (labels.length < 2) throw new DataError(`--labels: need at least two labels, got ${JSON.stringify(labels)}`);
    if (labels.some((l) => l.length === 0)) throw new DataError(`--labels: empty label name in ${JSON.stringify(labels)}`);
    if (new Set(labels).size !== labels.length) throw new DataError(`--labels: duplicate label names in ${JSON.stringify(labels)}`);
  } else {
    labels = labelsFromData(rows, source);
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

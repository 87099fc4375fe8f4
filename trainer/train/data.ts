/**
 * Datasets for training: reading (delegated to trainer/data/: URIs, JSONL/CSV/TSV, validation, bad
 * rows), the label set, and batching with dynamic padding (each batch padded to its own longest row).
 */
import { readDataset } from '../../shared/datasets/dataset.ts';
import { DataError, RowProblem } from '../../shared/datasets/errors.ts';
import { jsonRecord, recordToRow, type ReadOptions, type TokenizedRow } from '../../shared/datasets/rows.ts';
import type { ShuffleRng } from './validation-split.ts';

export { DataError } from '../../shared/datasets/errors.ts';
export type { ReadOptions, TokenizedRow, Tokenizer } from '../../shared/datasets/rows.ts';
export type { ShuffleRng } from './validation-split.ts';
import type { TokenBatch } from '../runtime/model-sessions.ts';

/** One tensor-ready batch, row-major [batchSize, seqLen], exactly what the model sessions take. */
export type Batch = TokenBatch;

/** Parses and validates one JSONL line; `where` (`<file>:<line>`) prefixes the DataError of a bad one. */
export function parseRow(text: string, where: string, line: number, o: ReadOptions): TokenizedRow {
  try {
    return recordToRow(jsonRecord(text), line, o);
  } catch (err) {
    if (err instanceof RowProblem) throw new DataError(`${where}: ${err.reason}`);
    throw err;
  }
}

/**
 * A JSONL dataset (a local path, file:// or s3:// URI), streamed, every row validated; the first bad
 * row fails. trainer/data/readDataset does the same for every format, with skipping of bad rows.
 */
export async function readTokenizedJsonl(path: string, o: ReadOptions): Promise<TokenizedRow[]> {
  return (await readDataset(path, { ...o, format: 'jsonl' })).rows;
}

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
      if (r.label >= MAX_INTEGER_CLASSES) throw new DataError(`${source}:${r.line}: integer label ${r.label} is too large for a class index (limit ${MAX_INTEGER_CLASSES}); pass --labels or use names`);
      if (r.label > max) max = r.label;
    } else names.add(r.label);
  }
  const labels = integers ? Array.from({ length: max + 1 }, (_, i) => String(i)) : [...names].sort();
  if (labels.length < 2) throw new DataError(`${source}: only one label (${JSON.stringify(labels[0])}) occurs; a classifier needs at least two (pass --labels)`);
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
      throw new DataError(`${source}:${row.line}: integer label ${l} is not a class index in [0, ${labels.length}) of the label set ${JSON.stringify(labels)}`);
    }
    const k = index.get(l);
    if (k === undefined) throw new DataError(`${source}:${row.line}: label ${JSON.stringify(l)} is not in the label set ${JSON.stringify(labels)}`);
    return k;
  };
  for (const r of rows) labelIndex(r); // fail before training, not at step 500
  return { labels, labelIndex };
}

/**
 * Row indices grouped into batches of `batchSize` (the last one may be short unless `dropLast`),
 * in file order or shuffled by `rng` — the same rng state gives the same order.
 */
export function makeBatches(rows: readonly unknown[], batchSize: number, o: { shuffle: boolean; rng?: ShuffleRng; dropLast?: boolean }): number[][] {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${batchSize}`);
  const order = Array.from({ length: rows.length }, (_, i) => i);
  if (o.shuffle) {
    // No silent Math.random fallback: runs must be reproducible from the seed.
    if (!o.rng) throw new Error('makeBatches: shuffle needs an rng');
    o.rng.shuffle(order);
  }
  const end = o.dropLast ? order.length - (order.length % batchSize) : order.length;
  const batches: number[][] = [];
  for (let i = 0; i < end; i += batchSize) batches.push(order.slice(i, Math.min(i + batchSize, end)));
  return batches;
}

/** Pads rows to the batch's longest (id 0, type 0, mask 0) into the int64 / float tensors the graph takes. */
/** @param padTo pad every batch to at least this length (fixed padding, the baseline dynamic padding beats). */
export function collate(rows: readonly TokenizedRow[], labelIndex?: (row: TokenizedRow) => number, padTo = 0): Batch {
  if (rows.length === 0) throw new RangeError('collate: empty batch');
  let seqLen = padTo;
  for (const r of rows) if (r.inputIds.length > seqLen) seqLen = r.inputIds.length;
  const n = rows.length * seqLen;
  const inputIds = new BigInt64Array(n);
  const tokenTypeIds = new BigInt64Array(n);
  const attentionMask = new Float32Array(n);
  for (let b = 0; b < rows.length; b++) {
    const r = rows[b];
    const o = b * seqLen;
    for (let i = 0; i < r.inputIds.length; i++) {
      inputIds[o + i] = BigInt(r.inputIds[i]);
      tokenTypeIds[o + i] = BigInt(r.tokenTypeIds[i]);
      attentionMask[o + i] = 1;
    }
  }
  const labels = labelIndex ? BigInt64Array.from(rows, (r) => BigInt(labelIndex(r))) : null;
  return { batchSize: rows.length, seqLen, inputIds, tokenTypeIds, attentionMask, labels };
}

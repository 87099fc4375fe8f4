/**
 * Pre-tokenized JSONL datasets: streaming read with per-line validation, the label set, and batching
 * with dynamic padding (each batch padded to its own longest row).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';

/** Bad input data; the message starts with `<file>:<line>:` (or `<file>:` for whole-file problems). */
export class DataError extends Error {
  override name = 'DataError';
}

export interface TokenizedRow {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  /** A class name, a class index, or null (unlabelled, only when labels are not required). */
  label: string | number | null;
  /** 1-based line in the source file, for messages. */
  line: number;
}

/**
 * The seam for text rows (a later issue): when given, rows with "text" (and optional "text_pair")
 * and no "input_ids" are encoded with it, then validated exactly like pre-tokenized rows.
 */
export interface Tokenizer {
  encode(text: string, textPair?: string): { inputIds: ArrayLike<number>; tokenTypeIds: ArrayLike<number> };
}

export interface ReadOptions {
  vocabSize: number;
  maxPositions: number;
  typeVocabSize: number;
  requireLabels: boolean;
  tokenizer?: Tokenizer;
}

/** One tensor-ready batch, row-major [batchSize, seqLen]; int64 as BigInt64Array for onnxruntime. */
export interface Batch {
  batchSize: number;
  seqLen: number;
  inputIds: BigInt64Array;
  tokenTypeIds: BigInt64Array;
  /** 1 for real tokens, 0 for padding. */
  attentionMask: Float32Array;
  labels: BigInt64Array | null;
}

/** Anything with a seeded in-place shuffle (trainer/util/random.ts's Rng fits). */
export interface ShuffleRng {
  shuffle<T>(a: T[]): T[];
}

function intArray(value: unknown, field: string, where: string, limit: number, what: 'token id' | 'token type id'): Int32Array {
  if (!Array.isArray(value)) throw new DataError(`${where}: field "${field}" must be an array of integers`);
  const list: readonly unknown[] = value;
  const out = new Int32Array(list.length);
  const range = what === 'token id' ? 'the vocabulary' : 'the token type range';
  for (let i = 0; i < list.length; i++) {
    const v = list[i];
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new DataError(`${where}: field "${field}" must be an array of integers (position ${i} is ${JSON.stringify(v)})`);
    }
    if (v < 0 || v >= limit) throw new DataError(`${where}: ${what} ${v} at position ${i} is outside ${range} [0, ${limit})`);
    out[i] = v;
  }
  return out;
}

/** The raw ids of a row: its own "input_ids", or the tokenizer's encoding of its "text". */
function rawIds(row: Record<string, unknown>, where: string, o: ReadOptions): { ids: unknown; types: unknown } {
  if (row.input_ids !== undefined) return { ids: row.input_ids, types: row.token_type_ids };
  if (row.text === undefined) throw new DataError(`${where}: missing field "input_ids"`);
  if (!o.tokenizer) throw new DataError(`${where}: missing field "input_ids" (text rows need a tokenizer; this release takes pre-tokenized rows)`);
  if (typeof row.text !== 'string') throw new DataError(`${where}: field "text" must be a string`);
  if (row.text_pair !== undefined && typeof row.text_pair !== 'string') throw new DataError(`${where}: field "text_pair" must be a string`);
  const enc = o.tokenizer.encode(row.text, row.text_pair);
  return { ids: Array.from(enc.inputIds), types: Array.from(enc.tokenTypeIds) };
}

/** Parses and validates one non-blank line; `where` is `<file>:<line>`. */
export function parseRow(text: string, where: string, line: number, o: ReadOptions): TokenizedRow {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new DataError(`${where}: malformed JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new DataError(`${where}: each line must be a JSON object`);
  const row = raw as Record<string, unknown>;
  const { ids, types } = rawIds(row, where, o);
  const inputIds = intArray(ids, 'input_ids', where, o.vocabSize, 'token id');
  if (inputIds.length === 0) throw new DataError(`${where}: field "input_ids" is empty`);
  if (inputIds.length > o.maxPositions) {
    throw new DataError(`${where}: sequence of ${inputIds.length} tokens exceeds max_position_embeddings ${o.maxPositions}`);
  }
  // Absent token types mean a single segment, as in Hugging Face tokenizers.
  let tokenTypeIds: Int32Array = new Int32Array(inputIds.length);
  if (types !== undefined && types !== null) {
    tokenTypeIds = intArray(types, 'token_type_ids', where, o.typeVocabSize, 'token type id');
    if (tokenTypeIds.length !== inputIds.length) {
      throw new DataError(`${where}: "token_type_ids" has ${tokenTypeIds.length} entries but "input_ids" has ${inputIds.length}`);
    }
  }
  const label = row.label;
  if (label === undefined || label === null) {
    if (o.requireLabels) throw new DataError(`${where}: missing field "label"`);
    return { inputIds, tokenTypeIds, label: null, line };
  }
  if (!(typeof label === 'string' && label.length > 0) && !(typeof label === 'number' && Number.isInteger(label) && label >= 0)) {
    throw new DataError(`${where}: field "label" must be a non-empty string or an integer >= 0, got ${JSON.stringify(label)}`);
  }
  return { inputIds, tokenTypeIds, label, line };
}

/** Streams the file line by line (never held whole in memory); blank lines are skipped. */
export async function readTokenizedJsonl(path: string, o: ReadOptions): Promise<TokenizedRow[]> {
  // stat first: a missing file or a directory gets a DataError rather than a stream error mid-iteration.
  try {
    if (!(await stat(path)).isFile()) throw new DataError(`${path}: not a file`);
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const rows: TokenizedRow[] = [];
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const raw of lines) {
    n++;
    // Editors on Windows may prepend a byte-order mark, which JSON.parse rejects.
    const text = n === 1 && raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
    if (text.trim() === '') continue;
    rows.push(parseRow(text, `${path}:${n}`, n, o));
  }
  if (rows.length === 0) throw new DataError(`${path}: no rows`);
  return rows;
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
export function collate(rows: readonly TokenizedRow[], labelIndex?: (row: TokenizedRow) => number): Batch {
  if (rows.length === 0) throw new RangeError('collate: empty batch');
  let seqLen = 0;
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

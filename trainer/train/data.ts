/**
 * Pre-tokenized JSONL datasets: streaming read with per-line validation, the label set, and batching
 * with dynamic padding (each batch padded to its own longest row).
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { TokenBatch } from '../runtime/model-sessions.ts';

export class DataError extends Error {}

export interface TokenizedRow {
  inputIds: Int32Array;
  tokenTypeIds: Int32Array;
  label: string | number | null;
  /** 1-based line in the source file, for messages. */
  line: number;
}

export interface ReadOptions {
  vocabSize: number;
  maxPositions: number;
  typeVocabSize: number;
  requireLabels: boolean;
}

function intArray(value: unknown, field: string, where: string, limit: number, what: string): Int32Array {
  if (!Array.isArray(value)) throw new DataError(`${where}: field "${field}" must be an array of integers`);
  const out = new Int32Array(value.length);
  value.forEach((v, i) => {
    if (!Number.isInteger(v)) throw new DataError(`${where}: field "${field}" must be an array of integers (position ${i} is ${JSON.stringify(v)})`);
    if (v < 0 || v >= limit) throw new DataError(`${where}: ${what} ${v} at position ${i} is outside the ${what === 'token id' ? 'vocabulary' : 'token type range'} [0, ${limit})`);
    out[i] = v;
  });
  return out;
}

export function parseRow(text: string, where: string, line: number, o: ReadOptions): TokenizedRow {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new DataError(`${where}: malformed JSON (${(err as Error).message})`);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new DataError(`${where}: each line must be a JSON object`);
  const row = raw as Record<string, unknown>;
  if (row.input_ids === undefined) {
    const hint = row.text !== undefined ? ' (text rows need a tokenizer; this release takes pre-tokenized rows)' : '';
    throw new DataError(`${where}: missing field "input_ids"${hint}`);
  }
  const inputIds = intArray(row.input_ids, 'input_ids', where, o.vocabSize, 'token id');
  if (inputIds.length === 0) throw new DataError(`${where}: field "input_ids" is empty`);
  if (inputIds.length > o.maxPositions) {
    throw new DataError(`${where}: sequence of ${inputIds.length} tokens exceeds max_position_embeddings ${o.maxPositions}`);
  }
  let tokenTypeIds: Int32Array = new Int32Array(inputIds.length);
  if (row.token_type_ids !== undefined) {
    tokenTypeIds = intArray(row.token_type_ids, 'token_type_ids', where, o.typeVocabSize, 'token type id');
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

/** Streams the file line by line (never held whole in memory twice); blank lines are skipped. */
export async function readTokenizedJsonl(path: string, o: ReadOptions): Promise<TokenizedRow[]> {
  try {
    if (!(await stat(path)).isFile()) throw new DataError(`${path}: not a file`);
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const rows: TokenizedRow[] = [];
  const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const text of lines) {
    n++;
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

/**
 * The classes: given (`--labels`, or a warm-start adapter's), or taken from the data — integers mean
 * classes 0..max, strings the sorted distinct set. Every row's label must be in the set.
 */
export function resolveLabels(rows: readonly TokenizedRow[], given?: readonly string[], source = 'data'): LabelSet {
  let labels: string[];
  // Integer labels are class indices (into --labels when given); string labels are names.
  const integerLabels = rows.every((r) => typeof r.label === 'number');
  if (given) {
    labels = [...given];
    if (labels.length < 2) throw new DataError(`--labels: need at least two labels, got ${JSON.stringify(labels)}`);
    if (new Set(labels).size !== labels.length) throw new DataError(`--labels: duplicate label names in ${JSON.stringify(labels)}`);
  } else if (integerLabels) {
    const max = Math.max(...rows.map((r) => r.label as number));
    labels = Array.from({ length: Math.max(2, max + 1) }, (_, i) => String(i));
  } else {
    labels = [...new Set(rows.map((r) => String(r.label)))].sort();
    if (labels.length < 2) throw new DataError(`${source}: only one label (${JSON.stringify(labels[0])}) occurs; a classifier needs at least two`);
  }
  const index = new Map(labels.map((l, i) => [l, i]));
  const labelIndex = (row: TokenizedRow): number => {
    const l = row.label;
    const k = typeof l === 'number' && (given || integerLabels) ? (l < labels.length ? l : undefined) : index.get(String(l));
    if (k === undefined) throw new DataError(`${source}:${row.line}: label ${JSON.stringify(l)} is not in the label set ${JSON.stringify(labels)}`);
    return k;
  };
  rows.forEach(labelIndex); // fail before training, not at step 500
  return { labels, labelIndex };
}

/** Row indices grouped into batches (the last one may be short); shuffled with `rng` when asked. */
export function makeBatches(rows: readonly unknown[], batchSize: number, o: { shuffle: boolean; rng?: { shuffle<T>(a: T[]): T[] } }): number[][] {
  const order = Array.from({ length: rows.length }, (_, i) => i);
  if (o.shuffle) {
    if (!o.rng) throw new Error('makeBatches: shuffle needs an rng');
    o.rng.shuffle(order);
  }
  const batches: number[][] = [];
  for (let i = 0; i < order.length; i += batchSize) batches.push(order.slice(i, i + batchSize));
  return batches;
}

/** Pads rows to the batch's longest (id 0, mask 0) into the int64 / float tensors the graph takes. */
export function collate(rows: readonly TokenizedRow[], labelIndex?: (row: TokenizedRow) => number): TokenBatch {
  const seqLen = Math.max(...rows.map((r) => r.inputIds.length));
  const n = rows.length * seqLen;
  const inputIds = new BigInt64Array(n);
  const tokenTypeIds = new BigInt64Array(n);
  const attentionMask = new Float32Array(n);
  rows.forEach((r, b) => {
    const o = b * seqLen;
    for (let i = 0; i < r.inputIds.length; i++) {
      inputIds[o + i] = BigInt(r.inputIds[i]);
      tokenTypeIds[o + i] = BigInt(r.tokenTypeIds[i]);
      attentionMask[o + i] = 1;
    }
  });
  const labels = labelIndex ? BigInt64Array.from(rows, (r) => BigInt(labelIndex(r))) : null;
  return { batchSize: rows.length, seqLen, inputIds, tokenTypeIds, attentionMask, labels };
}

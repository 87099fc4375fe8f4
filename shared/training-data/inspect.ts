/**
 * A dataset's structure, checked without a base model: it parses as its format, every row has a text
 * (or token ids) and a label, and there are at least two labels. What needs the base model (token ids
 * within its vocabulary, sequence lengths) is checked when a job reads the dataset. POST /datasets uses
 * this before storing anything.
 *
 * Constant memory: rows are counted as they stream past and dropped (their ids go to one reused
 * scratch buffer); only the per-label counts are kept.
 */
import { streamDataset } from './dataset.ts';
import { DataError, DataLimitError } from './errors.ts';
import type { DatasetFormat } from './formats.ts';
import { LABEL_LIMIT_ENV, type LabelLimits, labelCountProblem, labelNameProblem } from './label-limits.ts';
import type { IdArrays, Tokenizer } from './rows.ts';

export interface DatasetSummary {
  format: DatasetFormat;
  rows: number;
  /** Rows per label (integer labels as their decimal string), in order of first appearance. */
  labels: Map<string, number>;
}

export interface InspectLimits {
  /** Fail (DataLimitError) past this many (decompressed) bytes. */
  maxBytes?: number;
  /** Fail (DataLimitError) past this many rows. */
  maxRows?: number;
  /** Longest line or record in characters (default: the reader's). */
  maxLineChars?: number;
  /** Classes and label length (DataLimitError 'labels' past them); default: no limit. */
  labels?: LabelLimits;
}

/** One token per text: enough to run every row through the same checks as training does. */
const structureOnly: Tokenizer = { encode: () => ({ inputIds: [1], tokenTypeIds: [0] }) };

/** Id arrays for rows that are dropped at once: every row gets a view of the same buffer. */
class ScratchIds implements IdArrays {
  private buf = new Int32Array(64);
  private zero = new Int32Array(64);
  take(n: number): Int32Array {
    if (n > this.buf.length) this.buf = new Int32Array(Math.max(n, this.buf.length * 2));
    return this.buf.subarray(0, n);
  }
  zeros(n: number): Int32Array {
    if (n > this.zero.length) this.zero = new Int32Array(Math.max(n, this.zero.length * 2));
    return this.zero.subarray(0, n); // rows are read-only: nothing writes into it
  }
}

/** Which columns (CSV/TSV) or fields (JSONL) hold the text, its pair and the label (defaults: text, text_pair, label). */
export interface DatasetColumns {
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
}

export async function inspectDataset(uri: string, limits: InspectLimits = {}, columns: DatasetColumns = {}): Promise<DatasetSummary> {
  const big = Number.MAX_SAFE_INTEGER;
  const { labels: labelLimits, ...readLimits } = limits;
  const { textColumn, textPairColumn, labelColumn } = columns;
  const it = streamDataset(
    uri,
    {
      vocabSize: big,
      maxPositions: big,
      typeVocabSize: big,
      requireLabels: true,
      tokenizer: structureOnly,
      ...readLimits,
      textColumn,
      textPairColumn,
      labelColumn,
    },
    new ScratchIds(),
  );
  // A Map, not an object: labels like "__proto__" or "constructor" are counted like any other.
  const labels = new Map<string, number>();
  let rows = 0;
  for (;;) {
    const r = await it.next();
    try {
      if (!r.done && labelLimits) checkRowLabel(r.value.label, labels, labelLimits, `${uri}:${r.value.line}`);
    } catch (err) {
      await it.return(undefined as never); // closes the file
      throw err;
    }
    if (r.done) {
      if (labels.size < 2) {
        const only = [...labels.keys()][0];
        throw new DataError(`${r.value.name}: every row has the label ${JSON.stringify(only)}; a classifier needs at least two labels`);
      }
      return { format: r.value.format, rows, labels };
    }
    rows++;
    const name = String(r.value.label);
    labels.set(name, (labels.get(name) ?? 0) + 1);
  }
}

/**
 * A row's label within the limits, or a DataLimitError naming its line: a new name must be short enough
 * and not one class too many; an integer label k means classes 0..k.
 */
function checkRowLabel(label: string | number | null, seen: ReadonlyMap<string, number>, limits: LabelLimits, where: string): void {
  if (seen.has(String(label))) return;
  let problem: string | null;
  if (typeof label === 'number')
    problem =
      label + 1 > limits.maxLabels
        ? `integer label ${label} means ${label + 1} classes, over the limit of ${limits.maxLabels} (${LABEL_LIMIT_ENV.maxLabels})`
        : null;
  else problem = labelNameProblem(String(label), limits) ?? labelCountProblem(seen.size + 1, limits);
  if (problem) throw new DataLimitError(`${where}: ${problem}`, 'labels');
}

/**
 * A dataset's structure, checked without a base model: it parses as its format, every row has a text
 * (or token ids) and a label. What needs the base model (token ids within its vocabulary, sequence
 * lengths) is checked when a job reads the dataset. POST /datasets uses this before storing anything.
 */
import { readDataset } from './dataset.ts';
import type { DatasetFormat } from './formats.ts';
import type { Tokenizer } from './rows.ts';

export interface DatasetSummary {
  format: DatasetFormat;
  rows: number;
  /** Rows per label (integer labels as their decimal string). */
  labels: Record<string, number>;
}

/** One token per text: enough to run every row through the same checks as training does. */
const structureOnly: Tokenizer = { encode: () => ({ inputIds: [1], tokenTypeIds: [0] }) };

export async function inspectDataset(uri: string): Promise<DatasetSummary> {
  const big = Number.MAX_SAFE_INTEGER;
  const data = await readDataset(uri, { vocabSize: big, maxPositions: big, typeVocabSize: big, requireLabels: true, tokenizer: structureOnly });
  const labels: Record<string, number> = {};
  for (const row of data.rows) {
    const name = String(row.label);
    labels[name] = (labels[name] ?? 0) + 1;
  }
  return { format: data.format, rows: data.rows.length, labels };
}

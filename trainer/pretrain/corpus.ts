/**
 * The pretraining corpus: every document of every --data URI tokenized whole (the formats, URIs and
 * row errors of `train`'s reader), joined into one token stream with [SEP] after each document, and
 * cut into full-length sequences `[CLS] + seqLen−1 stream tokens`: no padding anywhere (packing, as
 * BERT's and Cramming's data pipelines do), every sequence opening with the [CLS] the classifier reads.
 */
import { DataError, type DatasetFormat, readDataset, type SkippedRow, type Tokenizer } from '../../shared/training-data/index.ts';
import type { MlmVocabulary } from './vocabulary.ts';

export interface Corpus {
  /** [count · seqLen] token ids, sequence after sequence. */
  sequences: Int32Array;
  count: number;
  seqLen: number;
  documents: number;
  /** Tokens in the stream (documents' word pieces and their [SEP]s); the tail that fills no sequence is dropped. */
  streamTokens: number;
  sources: { name: string; documents: number; skipped: SkippedRow[] }[];
}

export interface CorpusOptions {
  seqLen: number;
  vocab: MlmVocabulary;
  tokenizer: Tokenizer;
  format?: DatasetFormat;
  textColumn?: string;
  maxBadRows?: number;
}

/** A growable Int32Array. */
class IdStream {
  data = new Int32Array(1 << 20);
  length = 0;
  push(ids: ArrayLike<number>, from: number, to: number): void {
    const n = to - from;
    if (this.length + n > this.data.length) {
      const grown = new Int32Array(Math.max(this.data.length * 2, this.length + n));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    for (let i = from; i < to; i++) this.data[this.length++] = ids[i];
  }
}

export async function readCorpus(uris: readonly string[], o: CorpusOptions): Promise<Corpus> {
  if (uris.length === 0) throw new DataError('--data: give at least one URI');
  if (!Number.isInteger(o.seqLen) || o.seqLen < 8) throw new DataError(`--max-seq-len must be an integer >= 8, got ${o.seqLen}`);
  const { clsId, sepId } = o.vocab;
  const stream = new IdStream();
  const sep = [sepId];
  const sources: Corpus['sources'] = [];
  let documents = 0;
  for (const uri of uris) {
    const set = await readDataset(uri, {
      vocabSize: o.vocab.size,
      // Documents are read whole (packing cuts them), so no length limit applies here.
      maxPositions: Number.MAX_SAFE_INTEGER,
      typeVocabSize: 2,
      requireLabels: false,
      tokenizer: o.tokenizer,
      format: o.format,
      textColumn: o.textColumn,
      maxBadRows: o.maxBadRows ?? 0,
    });
    for (const row of set.rows) {
      const ids = row.inputIds;
      // The tokenizer's own [CLS] … [SEP] frame goes; a pair keeps its inner [SEP].
      const from = ids[0] === clsId ? 1 : 0;
      const to = ids.length > from && ids[ids.length - 1] === sepId ? ids.length - 1 : ids.length;
      if (to <= from) continue;
      stream.push(ids, from, to);
      stream.push(sep, 0, 1);
    }
    documents += set.rows.length;
    sources.push({ name: set.name, documents: set.rows.length, skipped: set.skipped });
  }
  const body = o.seqLen - 1;
  const count = Math.floor(stream.length / body);
  if (count === 0) {
    throw new DataError(
      `--data: the corpus has ${stream.length} tokens, fewer than one sequence of --max-seq-len ${o.seqLen} needs (${body} besides [CLS])`,
    );
  }
  const sequences = new Int32Array(count * o.seqLen);
  for (let k = 0; k < count; k++) {
    sequences[k * o.seqLen] = clsId;
    sequences.set(stream.data.subarray(k * body, (k + 1) * body), k * o.seqLen + 1);
  }
  return { sequences, count, seqLen: o.seqLen, documents, streamTokens: stream.length, sources };
}

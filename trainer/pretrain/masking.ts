/**
 * BERT's masking, drawn afresh each time a sequence is used (dynamic masking, RoBERTa): each
 * non-special token (or, with whole-word masking, each word: a token and the `##` pieces after it) is
 * chosen with probability p; a chosen token becomes [MASK] 80 % of the time, a uniformly random
 * vocabulary id 10 %, and stays itself 10 % (Hugging Face's DataCollatorForLanguageModeling), and the
 * loss is taken at every chosen position.
 */
import type { Rng } from '../util/random.ts';
import type { MaskedBatch } from './session.ts';
import type { MlmVocabulary } from './vocabulary.ts';

export interface MaskingOptions {
  probability: number;
  wholeWord: boolean;
  vocab: MlmVocabulary;
}

/** Masks the sequences `indices` of a packed corpus (`seqLen` ids each) into one batch. */
export function maskBatch(sequences: Int32Array, seqLen: number, indices: readonly number[], o: MaskingOptions, rng: Rng): MaskedBatch {
  const { special, continuation, maskId, size } = o.vocab;
  const n = indices.length * seqLen;
  const inputIds = new BigInt64Array(n);
  const chosen = new Uint8Array(n);
  let m = 0;
  for (let b = 0; b < indices.length; b++) {
    const base = indices[b] * seqLen;
    let wordChosen = false;
    for (let s = 0; s < seqLen; s++) {
      const id = sequences[base + s];
      const at = b * seqLen + s;
      inputIds[at] = BigInt(id);
      if (special[id]) {
        wordChosen = false;
        continue;
      }
      // A continuation follows its word's draw; one at a sequence's start (its word cut off) draws its own.
      const draw = !(o.wholeWord && continuation[id] && s > 0 && !special[sequences[base + s - 1]]);
      const pick: boolean = draw ? rng.uniform() < o.probability : wordChosen;
      wordChosen = pick;
      if (pick) {
        chosen[at] = 1;
        m++;
      }
    }
  }
  if (m === 0) {
    // A batch without a masked token has no loss; choose one (only tiny batches at tiny p get here).
    const candidates: number[] = [];
    for (let at = 0; at < n; at++) if (!special[Number(inputIds[at])]) candidates.push(at);
    if (candidates.length === 0) throw new Error('masking: the batch has only special tokens');
    chosen[candidates[rng.int(candidates.length)]] = 1;
    m = 1;
  }
  const positions = new BigInt64Array(m);
  const labels = new Int32Array(m);
  let k = 0;
  for (let at = 0; at < n; at++) {
    if (!chosen[at]) continue;
    positions[k] = BigInt(at);
    labels[k] = Number(inputIds[at]);
    k++;
    const r = rng.uniform();
    if (r < 0.8) inputIds[at] = BigInt(maskId);
    else if (r < 0.9) inputIds[at] = BigInt(rng.int(size));
  }
  return { batchSize: indices.length, seqLen, inputIds, positions, labels };
}

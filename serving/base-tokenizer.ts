/**
 * The tokenizer a served base encodes requests with, from its files' text (no Node APIs: the page runs it
 * too): BERT's WordPiece as before families, any other family's through its tokenizer rules
 * (trainer/tokenizer/families.ts, found by the family's `model_type`).
 */
import type { ModelFamily } from '../trainer/model/families/family.ts';
import { type BertTokenizer, bertTokenizerFromText, type Encoding } from '../trainer/tokenizer/bert-tokenizer-core.ts';
import { tokenizerFamilyFor } from '../trainer/tokenizer/families.ts';
import { familyTokenizerFromFiles, readerEncode } from '../trainer/tokenizer/family-tokenizer.ts';
import type { FamilyTokenizerFiles } from '../trainer/tokenizer/piece-sources.ts';

/** What the runtime asks of a base's tokenizer: encode (truncated to maxSeqLen), its pad id, another length. */
export interface ServingTokenizer {
  readonly padId: number;
  encode(text: string, textPair?: string): Encoding;
  withMaxSeqLen?(maxSeqLen: number): ServingTokenizer;
}

function familyServingTokenizer(files: FamilyTokenizerFiles, family: ModelFamily, maxSeqLen: number): ServingTokenizer {
  const tok = familyTokenizerFromFiles(files, { family: tokenizerFamilyFor(family.modelType), maxSeqLen });
  return {
    padId: tok.padId,
    encode: readerEncode(tok),
    withMaxSeqLen: (n) => familyServingTokenizer(files, family, n),
  };
}

export function servingTokenizer(files: FamilyTokenizerFiles, family: ModelFamily, maxSeqLen: number): ServingTokenizer | BertTokenizer {
  if (tokenizerFamilyFor(family.modelType) === 'bert') return bertTokenizerFromText(files, { maxSeqLen });
  return familyServingTokenizer(files, family, maxSeqLen);
}

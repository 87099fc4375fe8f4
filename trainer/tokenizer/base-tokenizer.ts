/**
 * The tokenizer a base model directory ships, for the base's family: what train, eval, predict, ablate,
 * run-job and upload-base encode text rows with. BERT keeps its own tokenizer (bert-tokenizer.ts: the same ids
 * as before families); every other family loads with load-tokenizer.ts under the family's tokenizer rules,
 * found by the family's `model_type` (families.ts names its rows after them).
 */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelFamily } from '../model/families/family.ts';
import { loadBertTokenizer, TokenizerError } from './bert-tokenizer.ts';
import { type TokenizerFamily, tokenizerFamilyFor } from './families.ts';
import { readerEncode } from './family-tokenizer.ts';
import { loadTokenizer } from './load-tokenizer.ts';

/** What the data reader calls on a tokenizer. */
export interface TextEncoder {
  encode(text: string, textPair?: string): { inputIds: ArrayLike<number>; tokenTypeIds: ArrayLike<number> };
}

/** The tokenizer rules of a model family: the row of families.ts named by its `model_type`. */
export function tokenizerFamilyOf(family: ModelFamily): TokenizerFamily {
  return tokenizerFamilyFor(family.modelType);
}

const BERT_FILES = ['tokenizer.json', 'vocab.txt'];
const FAMILY_FILES = ['tokenizer.json', 'vocab.txt', 'vocab.json', 'merges.txt'];

/**
 * The tokenizer files of a base directory that a store keeps beside config.json and the weights (what
 * upload-base uploads): any of tokenizer.json, vocab.txt, vocab.json, merges.txt, a SentencePiece *.model,
 * and tokenizer_config.json.
 */
export function tokenizerFileNames(dir: string): string[] {
  const named = [...FAMILY_FILES, 'tokenizer_config.json'].filter((f) => existsSync(join(dir, f)));
  const models = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.model')) : [];
  return [...named, ...models.sort()];
}

/** Whether the directory ships a tokenizer the family could load (BERT: tokenizer.json or vocab.txt). */
export function hasTokenizerFiles(dir: string, family: ModelFamily): boolean {
  if (tokenizerFamilyOf(family) === 'bert') return BERT_FILES.some((f) => existsSync(join(dir, f)));
  return tokenizerFileNames(dir).some((f) => f !== 'tokenizer_config.json');
}

/** What a base directory without tokenizer files is told, naming the files its family reads. */
export function missingTokenizerMessage(dir: string, family: ModelFamily): string {
  const expected =
    tokenizerFamilyOf(family) === 'bert'
      ? 'vocab.txt or tokenizer.json'
      : 'tokenizer file: expected tokenizer.json, vocab.json + merges.txt, a SentencePiece *.model, or vocab.txt';
  return `${dir}: no ${expected} for a ${family.modelType} base (jobs on text datasets need one)`;
}

/** Loads the family's tokenizer from a base directory, truncating to maxSeqLen; a bad file throws TokenizerError. */
export async function loadFamilyTextEncoder(dir: string, family: ModelFamily, maxSeqLen: number): Promise<TextEncoder> {
  const tokFamily = tokenizerFamilyOf(family);
  if (tokFamily === 'bert') return loadBertTokenizer(dir, { maxSeqLen });
  return { encode: readerEncode(await loadTokenizer(dir, { family: tokFamily, maxSeqLen })) };
}

/**
 * The base's tokenizer, or undefined when the directory ships none. A tokenizer that fails to load is only
 * an error for text rows: pre-tokenized data never calls it, so the failure is deferred to the first encode().
 */
export async function loadBaseTokenizer(dir: string, maxSeqLen: number, family: ModelFamily): Promise<TextEncoder | undefined> {
  if (!hasTokenizerFiles(dir, family)) return undefined;
  try {
    return await loadFamilyTextEncoder(dir, family, maxSeqLen);
  } catch (err) {
    if (!(err instanceof TokenizerError)) throw err;
    return {
      encode: () => {
        throw err;
      },
    };
  }
}

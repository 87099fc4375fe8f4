/**
 * Loading a family's tokenizer from a Hugging Face model directory, in the order transformers' fast
 * tokenizers prefer: tokenizer.json; vocab.json + merges.txt; a SentencePiece model (spm.model,
 * sentencepiece.bpe.model, or the one *.model there); vocab.txt. tokenizer_config.json, when present,
 * names special tokens and settings (do_lower_case, split_by_punct, add_prefix_space).
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TokenizerError } from './bert-tokenizer-core.ts';
import {
  type FamilyTokenizer,
  type FamilyTokenizerFiles,
  type FamilyTokenizerOptions,
  familyTokenizerFromFiles,
} from './family-tokenizer.ts';

export type { TokenizerFamily } from './families.ts';
export type { FamilyEncoding, FamilyTokenizer, PairTruncation } from './family-tokenizer.ts';

async function readText(path: string): Promise<{ name: string; text: string }> {
  try {
    return { name: path, text: await readFile(path, 'utf8') };
  } catch (e) {
    throw new TokenizerError(`${path}: cannot read: ${(e as Error).message}`);
  }
}

/** The SentencePiece model of a directory: spm.model, sentencepiece.bpe.model, else the only *.model. */
function sentencePieceFile(dir: string): string | undefined {
  for (const name of ['spm.model', 'sentencepiece.bpe.model']) if (existsSync(join(dir, name))) return join(dir, name);
  const models = readdirSync(dir).filter((f) => f.endsWith('.model'));
  if (models.length > 1) throw new TokenizerError(`${dir}: more than one SentencePiece *.model (${models.join(', ')}); keep one`);
  return models.length === 1 ? join(dir, models[0]) : undefined;
}

export async function loadTokenizer(dir: string, opts: FamilyTokenizerOptions): Promise<FamilyTokenizer> {
  if (!existsSync(dir)) throw new TokenizerError(`${dir}: no such directory`);
  const at = (name: string) => (existsSync(join(dir, name)) ? join(dir, name) : undefined);
  const files: FamilyTokenizerFiles = {};
  const config = at('tokenizer_config.json');
  if (config) files.tokenizerConfig = await readText(config);
  const json = at('tokenizer.json');
  const vocabJson = at('vocab.json');
  const merges = at('merges.txt');
  if (json) files.tokenizerJson = await readText(json);
  else if (vocabJson || merges) {
    if (vocabJson) files.vocabJson = await readText(vocabJson);
    if (merges) files.mergesTxt = await readText(merges);
  } else {
    const spm = sentencePieceFile(dir);
    const vocabTxt = at('vocab.txt');
    if (spm) {
      try {
        files.sentencePiece = { name: spm, bytes: new Uint8Array(await readFile(spm)) };
      } catch (e) {
        throw new TokenizerError(`${spm}: cannot read: ${(e as Error).message}`);
      }
    } else if (vocabTxt) files.vocabTxt = await readText(vocabTxt);
    else
      throw new TokenizerError(
        `${dir}: no tokenizer file: expected tokenizer.json, vocab.json + merges.txt, a SentencePiece *.model (spm.model), or vocab.txt`,
      );
  }
  return familyTokenizerFromFiles(files, opts);
}

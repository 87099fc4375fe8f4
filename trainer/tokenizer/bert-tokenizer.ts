/**
 * Loading a BERT tokenizer from a model directory (tokenizer.json or vocab.txt, tokenizer_config.json).
 * The tokenizer itself, and what it matches in Hugging Face's, is in bert-tokenizer-core.ts.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type BertTokenizer, bertTokenizerFromText, checkMaxSeqLen, TokenizerError, type TokenizerFiles } from './bert-tokenizer-core.ts';

export {
  type BertTokenizer,
  bertTokenizerFromText,
  type Encoding,
  longestFirstLengths,
  TokenizerError,
  type TokenizerFiles,
} from './bert-tokenizer-core.ts';

async function readText(path: string): Promise<{ name: string; text: string }> {
  try {
    return { name: path, text: await readFile(path, 'utf8') };
  } catch (e) {
    throw new TokenizerError(`${path}: cannot read: ${(e as Error).message}`);
  }
}

/**
 * Loads the tokenizer of a Hugging Face BERT model directory: `tokenizer.json` when present, else
 * `vocab.txt` (settings as bertTokenizerFromText describes).
 */
export async function loadBertTokenizer(dir: string, opts: { maxSeqLen: number; lowercase?: boolean }): Promise<BertTokenizer> {
  checkMaxSeqLen(opts.maxSeqLen);
  const jsonFile = join(dir, 'tokenizer.json');
  const vocabFile = join(dir, 'vocab.txt');
  const configFile = join(dir, 'tokenizer_config.json');
  const files: TokenizerFiles = {};
  if (existsSync(configFile)) files.tokenizerConfig = await readText(configFile);
  if (existsSync(jsonFile)) files.tokenizerJson = await readText(jsonFile);
  else if (existsSync(vocabFile)) files.vocabTxt = await readText(vocabFile);
  else throw new TokenizerError(`${dir}: neither tokenizer.json nor vocab.txt is there (${jsonFile}, ${vocabFile})`);
  return bertTokenizerFromText(files, opts);
}

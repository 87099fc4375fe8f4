/**
 * What masking needs to know about the vocabulary: its size, the [MASK] id, which ids are special
 * (never masked) and which are word-piece continuations (`##…`, for whole-word masking).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TokenizerError } from '../tokenizer/bert-tokenizer.ts';
import { DEFAULT_SPECIAL_TOKENS, vocabLines } from '../tokenizer/tokenizer-json.ts';

export interface MlmVocabulary {
  size: number;
  maskId: number;
  clsId: number;
  sepId: number;
  padId: number;
  /** 1 for ids that are never masked: [CLS], [SEP], [PAD], [MASK] and the tokenizer's other special tokens. */
  special: Uint8Array;
  /** 1 for word-piece continuations (`##…`): they belong to the word before them. */
  continuation: Uint8Array;
}

/** Token strings by id from a directory's tokenizer.json (model.vocab) or vocab.txt. */
function tokensOf(dir: string): { tokens: string[]; specials: string[]; file: string } {
  const jsonFile = join(dir, 'tokenizer.json');
  if (existsSync(jsonFile)) {
    const doc = JSON.parse(readFileSync(jsonFile, 'utf8')) as {
      model?: { vocab?: Record<string, number> };
      added_tokens?: { content: string; special?: boolean }[];
    };
    const vocab = doc.model?.vocab;
    if (!vocab || typeof vocab !== 'object') throw new TokenizerError(`${jsonFile}: no WordPiece model.vocab`);
    const tokens: string[] = [];
    for (const [token, id] of Object.entries(vocab)) tokens[id] = token;
    return { tokens, specials: (doc.added_tokens ?? []).filter((t) => t.special).map((t) => t.content), file: jsonFile };
  }
  const vocabFile = join(dir, 'vocab.txt');
  if (!existsSync(vocabFile)) throw new TokenizerError(`${dir}: neither tokenizer.json nor vocab.txt is there`);
  return { tokens: vocabLines(readFileSync(vocabFile, 'utf8')), specials: [], file: vocabFile };
}

export function readVocabulary(dir: string): MlmVocabulary {
  const { tokens, specials, file } = tokensOf(dir);
  const ids = new Map<string, number>();
  tokens.forEach((t, id) => ids.set(t, id));
  const idOf = (token: string): number => {
    const id = ids.get(token);
    if (id === undefined) throw new TokenizerError(`${file}: the vocabulary has no ${token} token (masked-LM pretraining needs it)`);
    return id;
  };
  const s = DEFAULT_SPECIAL_TOKENS;
  const [maskId, clsId, sepId, padId] = [idOf(s.mask), idOf(s.cls), idOf(s.sep), idOf(s.pad)];
  const size = tokens.length;
  const special = new Uint8Array(size);
  for (const id of [maskId, clsId, sepId, padId]) special[id] = 1;
  for (const t of specials) if (ids.has(t)) special[ids.get(t)!] = 1;
  const continuation = new Uint8Array(size);
  tokens.forEach((t, id) => {
    if (t?.startsWith('##') && t.length > 2) continuation[id] = 1;
  });
  return { size, maskId, clsId, sepId, padId, special, continuation };
}

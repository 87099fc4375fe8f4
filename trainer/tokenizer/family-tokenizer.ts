/**
 * A tokenizer for any of the families in families.ts, from its files' text (no file system; load-tokenizer.ts
 * reads a directory). Word pieces come from piece-sources.ts; framing (special tokens, pair template,
 * token types) and truncation are done here with the family's rules, as tokenizers.js does neither the
 * way the Rust library does.
 */
import { checkMaxSeqLen, longestFirstLengths, TokenizerError } from './bert-tokenizer-core.ts';
import {
  FAMILY_TOKENIZER_RULES,
  type FamilySpecialTokens,
  type FamilyTokenizerRules,
  familyPositionIds,
  frame,
  specialTokenCount,
  type TokenizerFamily,
  templateProcessingJson,
} from './families.ts';
import { configToken, type FamilyTokenizerFiles, parseJson, piecesOf } from './piece-sources.ts';

export type { FamilyTokenizerFiles, TextFile } from './piece-sources.ts';

export interface FamilyEncoding {
  inputIds: number[];
  tokenTypeIds: number[];
  attentionMask: number[];
  /** Word pieces truncation dropped. */
  truncatedTokens: number;
}

/** `longest_first`: the Rust library's split of a pair (longestFirstLengths); `only_second`: cut the second text only. */
export type PairTruncation = 'longest_first' | 'only_second';

export interface FamilyTokenizer {
  readonly family: TokenizerFamily;
  readonly rules: FamilyTokenizerRules;
  /** Which format the pieces came from, e.g. "tokenizer.json (Unigram)". */
  readonly format: string;
  readonly maxSeqLen: number;
  readonly vocabSize: number;
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly maskId: number | undefined;
  /** Word-piece ids, no special tokens, no truncation. */
  pieces(text: string): number[];
  /** The family's single-text template, truncated to maxSeqLen. */
  encode(text: string): FamilyEncoding;
  /** The family's pair template, truncated to maxSeqLen (longest_first unless told). */
  encodePair(text: string, textPair: string, truncation?: PairTruncation): FamilyEncoding;
  /** The family's position ids for a (possibly padded) row. */
  positionIds(inputIds: readonly number[]): number[];
  tokenId(token: string): number | undefined;
  /**
   * This tokenizer as one Hugging Face tokenizer.json (the Rust library's format): its model, normalizer
   * and pre-tokenizer, the family's template, truncation to maxSeqLen (longest-first) and padding to
   * the batch's longest row.
   */
  toTokenizerJson(): Record<string, unknown>;
}

export interface FamilyTokenizerOptions {
  family: TokenizerFamily;
  maxSeqLen: number;
}

/** Builds the family's tokenizer from its files' text. */
export function familyTokenizerFromFiles(files: FamilyTokenizerFiles, opts: FamilyTokenizerOptions): FamilyTokenizer {
  const { family, maxSeqLen } = opts;
  const rules = FAMILY_TOKENIZER_RULES[family];
  if (rules === undefined) throw new TokenizerError(`unknown tokenizer family ${JSON.stringify(family)}`);
  checkMaxSeqLen(maxSeqLen);
  const config = files.tokenizerConfig ? parseJson(files.tokenizerConfig) : undefined;
  const special: FamilySpecialTokens = {
    cls: configToken(config, 'cls_token') ?? rules.special.cls,
    sep: configToken(config, 'sep_token') ?? rules.special.sep,
    pad: configToken(config, 'pad_token') ?? rules.special.pad,
    unk: configToken(config, 'unk_token') ?? rules.special.unk,
    mask: configToken(config, 'mask_token') ?? rules.special.mask,
  };
  const pieces = piecesOf(files, family, special, config);
  const idOf = (token: string, role: string): number => {
    const id = pieces.ids.get(token);
    if (id === undefined) throw new TokenizerError(`${pieces.file}: the vocabulary has no ${role} token ${JSON.stringify(token)}`);
    return id;
  };
  const ids = {
    cls: idOf(special.cls, 'classifier'),
    sep: idOf(special.sep, 'separator'),
    pad: idOf(special.pad, 'padding'),
    unk: idOf(special.unk, 'unknown'),
  };
  let vocabSize = 0;
  for (const id of pieces.ids.values()) if (id + 1 > vocabSize) vocabSize = id + 1;

  const textOf = (text: unknown): string => {
    if (typeof text !== 'string') throw new TokenizerError(`expected a string to encode, got ${text === null ? 'null' : typeof text}`);
    return text;
  };
  const finish = (framed: { inputIds: number[]; tokenTypeIds: number[] }, truncatedTokens: number): FamilyEncoding => ({
    ...framed,
    attentionMask: new Array<number>(framed.inputIds.length).fill(1),
    truncatedTokens,
  });

  return {
    family,
    rules,
    format: pieces.format,
    maxSeqLen,
    vocabSize,
    clsId: ids.cls,
    sepId: ids.sep,
    padId: ids.pad,
    unkId: ids.unk,
    maskId: pieces.ids.get(special.mask),
    pieces: (text) => pieces.encode(textOf(text)),
    tokenId: (token) => pieces.ids.get(token),
    toTokenizerJson: () =>
      pieces.toTokenizerJson({
        post_processor: templateProcessingJson(rules, special, ids),
        truncation: { direction: 'Right', max_length: maxSeqLen, strategy: 'LongestFirst', stride: 0 },
        padding: {
          strategy: 'BatchLongest',
          direction: 'Right',
          pad_to_multiple_of: null,
          pad_id: ids.pad,
          pad_type_id: 0,
          pad_token: special.pad,
        },
        maxSeqLen,
      }),
    positionIds: (inputIds) => familyPositionIds(rules, inputIds, ids.pad),
    encode(text) {
      const a = pieces.encode(textOf(text));
      const keep = Math.min(a.length, maxSeqLen - specialTokenCount(rules, false));
      return finish(frame(rules, ids, a.slice(0, keep)), a.length - keep);
    },
    encodePair(text, textPair, truncation = 'longest_first') {
      const budget = maxSeqLen - specialTokenCount(rules, true);
      if (budget < 0) throw new TokenizerError(`maxSeqLen ${maxSeqLen} leaves no room for a ${family} pair's special tokens`);
      const a = pieces.encode(textOf(text));
      const b = pieces.encode(textOf(textPair));
      let na: number;
      let nb: number;
      if (truncation === 'only_second') {
        if (a.length + b.length > budget && a.length >= budget)
          throw new TokenizerError(
            `only_second truncation: the first text's ${a.length} pieces leave no room for the second within maxSeqLen ${maxSeqLen}`,
          );
        na = a.length;
        nb = Math.min(b.length, budget - a.length);
      } else [na, nb] = longestFirstLengths(a.length, b.length, budget);
      return finish(frame(rules, ids, a.slice(0, na), b.slice(0, nb)), a.length - na + b.length - nb);
    },
  };
}

/**
 * The `encode(text, textPair?)` the data reader and serving call on a BERT tokenizer
 * (`Pick<BertTokenizer, 'encode'>`), over a family tokenizer: what the family seam plugs in.
 */
export function readerEncode(tok: FamilyTokenizer): (text: string, textPair?: string) => FamilyEncoding {
  return (text, textPair) => (textPair === undefined ? tok.encode(text) : tok.encodePair(text, textPair));
}

/**
 * BERT WordPiece tokenization, id for id what Hugging Face's `BertTokenizerFast` (the Rust `tokenizers`
 * crate behind `AutoTokenizer`) gives for `tokenizer(text, text_pair, truncation=True, max_length=N)`.
 *
 * Library: `@huggingface/tokenizers` (tokenizers.js, Hugging Face's pure-JS port; zero dependencies,
 * ~650 KB, nothing to build or download). Measured here on Node 20 (2 cores) over the 80,305 GLUE rows
 * of SST-2/CoLA/RTE: ~45,000 rows/s through this module's synchronous `encode`, and every row's ids
 * identical to the Rust library's (untruncated and at maxSeqLen 64/128).
 * The other candidate, the napi `tokenizers` package (the Rust library itself), installs too (64 MB:
 * every platform's binary in one package) but has only async `encode` (~15,000 rows/s awaited one by
 * one; ~71,000 rows/s through `encodeBatch` on 2 cores, which takes no pairs): the data reader needs a
 * synchronous per-row `encode`, so it would need a whole-file async pre-pass.
 *
 * What this module adds around the library, each checked against the Rust library:
 * - special tokens and truncation are done here (tokenizers.js has no truncation): `[CLS] A [SEP]`
 *   and `[CLS] A [SEP] B [SEP]` with token types 0…0 1…1; pairs are cut longest-first with the Rust
 *   rule (`truncate_encodings`): when only the longer side must shrink it keeps `budget - shorter`;
 *   when both must, the shorter keeps ⌊budget/2⌋ and the longer the rest (on a tie the second gets
 *   the odd token). transformers' slow Python tokenizer gives the odd token to the first side always,
 *   so the two can differ by one token a side; this follows the fast one. Rust `tokenizers` releases
 *   with the 2026 early-exit change (PR #1990; the npm 0.23.2 build) stop tokenizing each side once it
 *   reaches max_length, so when *both* sides are at least maxSeqLen word pieces long the split can
 *   come out as for a tie: 311 of the 80,305 GLUE rows at maxSeqLen 16, none at 64 or 128.
 * - CJK ideographs outside the BMP (U+20000…) are split into their own tokens as in Rust
 *   (tokenizers.js walks UTF-16 units and misses them); Rust's ranges are used, which start the
 *   Extension-E block at U+2B920 where the original BERT code says U+2B820.
 * - 'Σ' lower-cases to 'σ' everywhere, as Rust's per-character lower-casing does (JavaScript's
 *   `toLowerCase` turns a word-final Σ into 'ς').
 *
 * This module reads no files (it runs in a browser too): it builds a tokenizer from the files' text;
 * bert-tokenizer.ts loads one from a model directory.
 */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import {
  type BertNormalizerJson,
  bertTokenizerJson,
  DEFAULT_SPECIAL_TOKENS,
  type SpecialTokens,
  settledTokenizerJson,
  vocabFromLines,
  vocabLines,
} from './tokenizer-json.ts';

export interface Encoding {
  inputIds: number[];
  tokenTypeIds: number[];
  /** How many word pieces truncation dropped (0 when the row fit). Always set by this module. */
  truncatedTokens?: number;
}

export interface BertTokenizer {
  readonly vocabSize: number;
  readonly lowercase: boolean;
  /** Whether accents are stripped (NFD, then non-spacing marks dropped); by default the same as `lowercase`. */
  readonly stripAccents: boolean;
  readonly maxSeqLen: number;
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  /** [CLS] text [SEP] (text_pair [SEP]), truncated to maxSeqLen tokens in all (longest-first for pairs, as HF's truncation=True). */
  encode(text: string, textPair?: string): Encoding;
  /** Same for many rows at once, if the library batches faster. */
  encodeBatch?(rows: { text: string; textPair?: string }[]): Encoding[];
  /** The same tokenizer truncating to another length (shares the vocabulary; nothing is re-parsed). */
  withMaxSeqLen?(maxSeqLen: number): BertTokenizer;
  /**
   * This tokenizer as one Hugging Face tokenizer.json (settled normalizer, BERT template, truncation to
   * maxSeqLen, padding), which transformers, the Python `tokenizers` and tokenizers.js load as they are.
   */
  toTokenizerJson(): Record<string, unknown>;
}

/** A tokenizer directory or file that cannot be used, or an input it cannot encode; the message starts with the file. */
export class TokenizerError extends Error {
  override name = 'TokenizerError';
}

/**
 * Longest-first truncation of a pair, as the Rust `tokenizers` crate does it: the lengths the first
 * and the second sequence keep so that together they fit `budget` (maxSeqLen minus the 3 special tokens).
 */
export function longestFirstLengths(first: number, second: number, budget: number): [number, number] {
  if (first + second <= budget) return [first, second];
  const swap = first > second;
  let n1 = swap ? second : first; // the shorter
  let n2 = n1 > budget ? n1 : Math.max(n1, budget - n1); // the longer's share when only it is cut
  if (n1 + n2 > budget) {
    n1 = Math.floor(budget / 2);
    n2 = n1 + (budget % 2);
  }
  return swap ? [n2, n1] : [n1, n2];
}

/** CJK ideographs outside the BMP, with the Rust BertNormalizer's ranges. */
const ASTRAL_CJK = /[\u{20000}-\u{2A6DF}\u{2A700}-\u{2B81F}\u{2B920}-\u{2CEAF}\u{2F800}-\u{2FA1F}]/u;
const ASTRAL_CJK_ALL = new RegExp(ASTRAL_CJK.source, 'gu');

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses a JSON document given as text; `path` names it in messages. */
function parseJson(path: string, text: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${path}: not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(value)) throw new TokenizerError(`${path}: expected a JSON object`);
  return value;
}

/** A special token in tokenizer_config.json: a string or an AddedToken object `{ "content": ... }`. */
function configToken(config: Json | undefined, key: string): string | undefined {
  const v = config?.[key];
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return undefined;
}

interface Loaded {
  /** The tokenizer.json document handed to tokenizers.js (normalizer settled, no post-processor). */
  json: Json;
  /** Where ids come from, for messages. */
  file: string;
  /** token -> id over the model vocab and the added tokens (added tokens win, as in the library). */
  ids: Map<string, number>;
  normalizer: Json | null;
}

function loadTokenizerJson(file: string, doc: Json): Loaded {
  const model = doc.model;
  if (!isObject(model)) throw new TokenizerError(`${file}: no "model" object`);
  if (model.type !== 'WordPiece')
    throw new TokenizerError(`${file}: model type ${JSON.stringify(model.type)} is not WordPiece (not a BERT tokenizer)`);
  const vocab = model.vocab;
  if (!isObject(vocab)) throw new TokenizerError(`${file}: model.vocab is not an object of token -> id`);
  const ids = new Map<string, number>();
  for (const [token, id] of Object.entries(vocab)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
      throw new TokenizerError(`${file}: model.vocab[${JSON.stringify(token)}] is not a non-negative integer id`);
    ids.set(token, id);
  }
  if (ids.size === 0) throw new TokenizerError(`${file}: model.vocab is empty`);
  const added = doc.added_tokens ?? [];
  if (!Array.isArray(added)) throw new TokenizerError(`${file}: "added_tokens" is not an array`);
  for (const [i, t] of added.entries()) {
    if (!isObject(t) || typeof t.content !== 'string' || typeof t.id !== 'number' || !Number.isInteger(t.id) || t.id < 0) {
      throw new TokenizerError(`${file}: added_tokens[${i}] needs a string "content" and a non-negative integer "id"`);
    }
    ids.set(t.content, t.id);
  }
  const normalizer = doc.normalizer ?? null;
  if (normalizer !== null && !(isObject(normalizer) && normalizer.type === 'BertNormalizer')) {
    const type = isObject(normalizer) ? normalizer.type : normalizer;
    throw new TokenizerError(`${file}: normalizer ${JSON.stringify(type)} is not supported (a BERT tokenizer has a BertNormalizer)`);
  }
  // tokenizers.js wants every component key present; the post-processor and decoder are not used here.
  const json: Json = {
    ...doc,
    added_tokens: added,
    normalizer,
    pre_tokenizer: doc.pre_tokenizer ?? null,
    post_processor: null,
    decoder: null,
  };
  return { json, file, ids, normalizer };
}

function loadVocabTxt(file: string, text: string, special: SpecialTokens): Loaded {
  const lines = vocabLines(text);
  if (lines.every((l) => l.trim() === '')) throw new TokenizerError(`${file}: the vocabulary is empty`);
  const vocab = vocabFromLines(lines);
  // The normalizer is settled by the caller; these flags are placeholders.
  const json = bertTokenizerJson(vocab, { lowercase: true, specialTokens: special }) as unknown as Json;
  const ids = new Map<string, number>(Object.entries(vocab));
  return { json, file, ids, normalizer: null };
}

/** The text of a tokenizer's files (as a model directory holds them), each named for messages. */
export interface TokenizerFiles {
  /** tokenizer.json; used when given, else vocab.txt. */
  tokenizerJson?: { name: string; text: string };
  vocabTxt?: { name: string; text: string };
  tokenizerConfig?: { name: string; text: string };
}

/**
 * The tokenizer of a Hugging Face BERT model from its files' text (no file system: runs in a browser as
 * well): `tokenizer.json` when given, else `vocab.txt`. Lower-casing (and with it accent stripping) is, in order: `opts.lowercase`;
 * tokenizer_config.json's `do_lower_case`; the tokenizer.json normalizer's `lowercase`; true.
 * Accent stripping: tokenizer_config.json's `strip_accents` (true, false, or null = follow
 * lower-casing), else the normalizer's, else null. Chinese-character splitting: tokenizer_config.json's
 * `tokenize_chinese_chars`, else the normalizer's, else true. Special tokens: tokenizer_config.json's
 * `cls_token`/`sep_token`/`unk_token`/`pad_token`, else `[CLS]`, `[SEP]`, `[UNK]`, `[PAD]`; each must be
 * in the vocabulary.
 */
export function bertTokenizerFromText(files: TokenizerFiles, opts: { maxSeqLen: number; lowercase?: boolean }): BertTokenizer {
  const { maxSeqLen } = opts;
  checkMaxSeqLen(maxSeqLen);
  const config = files.tokenizerConfig ? parseJson(files.tokenizerConfig.name, files.tokenizerConfig.text) : undefined;
  const special: SpecialTokens = {
    pad: configToken(config, 'pad_token') ?? DEFAULT_SPECIAL_TOKENS.pad,
    unk: configToken(config, 'unk_token') ?? DEFAULT_SPECIAL_TOKENS.unk,
    cls: configToken(config, 'cls_token') ?? DEFAULT_SPECIAL_TOKENS.cls,
    sep: configToken(config, 'sep_token') ?? DEFAULT_SPECIAL_TOKENS.sep,
    mask: configToken(config, 'mask_token') ?? DEFAULT_SPECIAL_TOKENS.mask,
  };

  let loaded: Loaded;
  if (files.tokenizerJson) {
    const { name, text } = files.tokenizerJson;
    loaded = loadTokenizerJson(name, parseJson(name, text));
  } else if (files.vocabTxt) loaded = loadVocabTxt(files.vocabTxt.name, files.vocabTxt.text, special);
  else throw new TokenizerError('neither tokenizer.json nor vocab.txt was given');
  const { file, ids } = loaded;
  const modelUnk = (loaded.json.model as Json).unk_token;
  if (modelUnk !== special.unk)
    throw new TokenizerError(`${file}: the WordPiece model's unk_token ${JSON.stringify(modelUnk)} is not ${JSON.stringify(special.unk)}`);

  // Settle the normalizer: explicit option, then tokenizer_config.json, then tokenizer.json, then uncased.
  const norm = loaded.normalizer;
  const boolOf = (v: unknown): boolean | undefined => (typeof v === 'boolean' ? v : undefined);
  const lowercase = opts.lowercase ?? boolOf(config?.do_lower_case) ?? boolOf(norm?.lowercase) ?? true;
  let stripSetting: boolean | null = null;
  if (config !== undefined && 'strip_accents' in config && (config.strip_accents === null || typeof config.strip_accents === 'boolean'))
    stripSetting = config.strip_accents;
  else if (norm !== null && typeof norm.strip_accents === 'boolean') stripSetting = norm.strip_accents;
  const stripAccents = stripSetting ?? lowercase;
  const handleChineseChars = boolOf(config?.tokenize_chinese_chars) ?? boolOf(norm?.handle_chinese_chars) ?? true;
  const cleanText = boolOf(norm?.clean_text) ?? true;
  const normalizer: BertNormalizerJson = {
    type: 'BertNormalizer',
    clean_text: cleanText,
    handle_chinese_chars: handleChineseChars,
    strip_accents: stripAccents,
    lowercase,
  };
  loaded.json.normalizer = normalizer;

  const idOf = (token: string, role: string): number => {
    const id = ids.get(token);
    if (id === undefined) throw new TokenizerError(`${file}: the vocabulary has no ${role} token ${JSON.stringify(token)}`);
    return id;
  };
  const padId = idOf(special.pad, 'padding');
  const unkId = idOf(special.unk, 'unknown');
  const clsId = idOf(special.cls, 'classifier');
  const sepId = idOf(special.sep, 'separator');
  let vocabSize = 0;
  for (const id of ids.values()) if (id + 1 > vocabSize) vocabSize = id + 1;

  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(loaded.json, {});
  } catch (e) {
    throw new TokenizerError(`${file}: cannot be used: ${(e as Error).message}`);
  }
  return new WordPieceTokenizer(hf, loaded.json, {
    vocabSize,
    lowercase,
    stripAccents,
    handleChineseChars,
    maxSeqLen,
    padId,
    unkId,
    clsId,
    sepId,
    normalizer,
    special,
  });
}

interface Settings {
  normalizer: BertNormalizerJson;
  special: SpecialTokens;
  vocabSize: number;
  lowercase: boolean;
  stripAccents: boolean;
  handleChineseChars: boolean;
  maxSeqLen: number;
  padId: number;
  unkId: number;
  clsId: number;
  sepId: number;
}

export function checkMaxSeqLen(maxSeqLen: number): void {
  if (!Number.isInteger(maxSeqLen) || maxSeqLen < 2) {
    throw new TokenizerError(`maxSeqLen must be an integer ≥ 2 ([CLS] and [SEP]; ≥ 3 for pairs), got ${maxSeqLen}`);
  }
}

class WordPieceTokenizer implements BertTokenizer {
  readonly vocabSize: number;
  readonly lowercase: boolean;
  readonly stripAccents: boolean;
  readonly maxSeqLen: number;
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  private readonly handleChineseChars: boolean;

  constructor(
    private readonly hf: HfTokenizer,
    /** The document handed to tokenizers.js: model, added tokens, settled normalizer. */
    private readonly doc: Json,
    private readonly settings: Settings,
  ) {
    const s = settings;
    this.vocabSize = s.vocabSize;
    this.lowercase = s.lowercase;
    this.stripAccents = s.stripAccents;
    this.handleChineseChars = s.handleChineseChars;
    this.maxSeqLen = s.maxSeqLen;
    this.padId = s.padId;
    this.unkId = s.unkId;
    this.clsId = s.clsId;
    this.sepId = s.sepId;
  }

  withMaxSeqLen(maxSeqLen: number): BertTokenizer {
    checkMaxSeqLen(maxSeqLen);
    return new WordPieceTokenizer(this.hf, this.doc, { ...this.settings, maxSeqLen });
  }

  toTokenizerJson(): Record<string, unknown> {
    const { normalizer, special, clsId, sepId, padId, maxSeqLen } = this.settings;
    return settledTokenizerJson(this.doc, { normalizer, special, clsId, sepId, padId, maxSeqLen });
  }

  /** Word-piece ids of one text, no special tokens. */
  private pieces(text: string): number[] {
    if (typeof text !== 'string') throw new TokenizerError(`expected a string to encode, got ${text === null ? 'null' : typeof text}`);
    let t = text;
    if (this.lowercase && t.includes('Σ')) t = t.replaceAll('Σ', 'σ');
    if (this.handleChineseChars && ASTRAL_CJK.test(t)) t = t.replace(ASTRAL_CJK_ALL, ' $& ');
    return this.hf.encode(t, { add_special_tokens: false }).ids;
  }

  encode(text: string, textPair?: string): Encoding {
    const a = this.pieces(text);
    if (textPair === undefined) {
      const keep = Math.min(a.length, this.maxSeqLen - 2);
      const inputIds = new Array<number>(keep + 2);
      inputIds[0] = this.clsId;
      for (let i = 0; i < keep; i++) inputIds[i + 1] = a[i];
      inputIds[keep + 1] = this.sepId;
      return { inputIds, tokenTypeIds: new Array<number>(keep + 2).fill(0), truncatedTokens: a.length - keep };
    }
    if (this.maxSeqLen < 3)
      throw new TokenizerError(`maxSeqLen ${this.maxSeqLen} leaves no room for a pair ([CLS] A [SEP] B [SEP] needs ≥ 3)`);
    const b = this.pieces(textPair);
    const [na, nb] = longestFirstLengths(a.length, b.length, this.maxSeqLen - 3);
    const n = na + nb + 3;
    const inputIds = new Array<number>(n);
    const tokenTypeIds = new Array<number>(n);
    inputIds[0] = this.clsId;
    for (let i = 0; i < na; i++) inputIds[i + 1] = a[i];
    inputIds[na + 1] = this.sepId;
    for (let i = 0; i < nb; i++) inputIds[na + 2 + i] = b[i];
    inputIds[n - 1] = this.sepId;
    tokenTypeIds.fill(0, 0, na + 2).fill(1, na + 2);
    return { inputIds, tokenTypeIds, truncatedTokens: a.length - na + (b.length - nb) };
  }
}

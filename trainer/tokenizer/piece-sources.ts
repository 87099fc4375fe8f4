/**
 * Where a family tokenizer's word pieces come from, by file format (the first present is used):
 * - tokenizer.json: run by Hugging Face's tokenizers.js as shipped (WordPiece, BPE, Unigram), except a
 *   Precompiled (SentencePiece character map) normalizer step, which is run exactly here;
 * - vocab.json + merges.txt: converted to byte-level BPE (convert-tokenizer.ts), then tokenizers.js;
 * - a SentencePiece ModelProto: its pieces converted, then sentencepiece's own normalizer and the model,
 *   as the slow transformers tokenizers run sentencepiece;
 * - BERT's vocab.txt (and a WordPiece tokenizer.json for the BERT-like families): bert-tokenizer-core.ts,
 *   so its ids are the BERT path's.
 */
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { bertTokenizerFromText, TokenizerError } from './bert-tokenizer-core.ts';
import { byteLevelBpeJson, fromBase64, parseMerges, parseVocabJson, sentencePieceJson } from './convert-tokenizer.ts';
import { FAMILY_TOKENIZER_RULES, type FamilySpecialTokens, type TokenizerFamily } from './families.ts';
import { PieceType, parseSentencePieceModel } from './sentencepiece-model.ts';
import { applyCharsmap, PrecompiledCharsmap, sentencePieceNormalize, splitOnPunctuation } from './sentencepiece-normalizer.ts';
import { vocabFromLines, vocabLines } from './tokenizer-json.ts';

export type Json = Record<string, unknown>;
export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface TextFile {
  name: string;
  text: string;
}

/** The tokenizer files of a model directory; the first usable format in this order is used. */
export interface FamilyTokenizerFiles {
  tokenizerJson?: TextFile;
  vocabJson?: TextFile;
  mergesTxt?: TextFile;
  sentencePiece?: { name: string; bytes: Uint8Array };
  vocabTxt?: TextFile;
  tokenizerConfig?: TextFile;
}

export function parseJson(file: TextFile): Json {
  let value: unknown;
  try {
    value = JSON.parse(file.text);
  } catch (e) {
    throw new TokenizerError(`${file.name}: not valid JSON: ${(e as Error).message}`);
  }
  if (!isObject(value)) throw new TokenizerError(`${file.name}: expected a JSON object`);
  return value;
}

export function configToken(config: Json | undefined, key: string): string | undefined {
  const v = config?.[key];
  if (typeof v === 'string') return v;
  if (isObject(v) && typeof v.content === 'string') return v.content;
  return undefined;
}

export interface Pieces {
  format: string;
  file: string;
  encode: (text: string) => number[];
  ids: Map<string, number>;
  /**
   * The whole tokenizer as one Hugging Face tokenizer.json: these pieces' document with the given
   * post-processor, truncation and padding (the BERT path writes its own, with its template).
   */
  toTokenizerJson: (framing: TokenizerJsonFraming) => Json;
}

export interface TokenizerJsonFraming {
  post_processor: Json;
  truncation: Json;
  padding: Json;
  maxSeqLen: number;
}

/** A tokenizer.json document with its framing (post-processor, truncation, padding) replaced. */
function framed(doc: Json, framing: TokenizerJsonFraming): Json {
  const { post_processor, truncation, padding } = framing;
  return { ...doc, truncation, padding, post_processor };
}

const MODEL_TYPES = ['WordPiece', 'BPE', 'Unigram'];

/** Token -> id over a tokenizer.json's model vocabulary and added tokens; checks the model type. */
function tokenizerJsonIds(file: string, doc: Json): { ids: Map<string, number>; type: string } {
  const model = doc.model;
  if (!isObject(model)) throw new TokenizerError(`${file}: no "model" object`);
  if (typeof model.type !== 'string' || !MODEL_TYPES.includes(model.type))
    throw new TokenizerError(`${file}: model type ${JSON.stringify(model.type)} is not one of ${MODEL_TYPES.join(', ')}`);
  const ids = new Map<string, number>();
  if (model.type === 'Unigram') {
    if (!Array.isArray(model.vocab) || model.vocab.length === 0)
      throw new TokenizerError(`${file}: a Unigram model.vocab must be a non-empty array of [piece, score]`);
    model.vocab.forEach((entry: unknown, i) => {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'number')
        throw new TokenizerError(`${file}: model.vocab[${i}] is not [piece, score]`);
      if (!ids.has(entry[0])) ids.set(entry[0], i);
    });
    if (!Number.isInteger(model.unk_id) || (model.unk_id as number) < 0 || (model.unk_id as number) >= model.vocab.length)
      throw new TokenizerError(`${file}: the Unigram model's unk_id ${JSON.stringify(model.unk_id)} is not a piece of its vocab`);
  } else {
    if (!isObject(model.vocab)) throw new TokenizerError(`${file}: model.vocab is not an object of token -> id`);
    for (const [token, id] of Object.entries(model.vocab)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
        throw new TokenizerError(`${file}: model.vocab[${JSON.stringify(token)}] is not a non-negative integer id`);
      ids.set(token, id);
    }
    if (ids.size === 0) throw new TokenizerError(`${file}: model.vocab is empty`);
    if (model.type === 'BPE' && !Array.isArray(model.merges)) throw new TokenizerError(`${file}: a BPE model needs a "merges" array`);
  }
  const added = doc.added_tokens ?? [];
  if (!Array.isArray(added)) throw new TokenizerError(`${file}: "added_tokens" is not an array`);
  added.forEach((t: unknown, i) => {
    if (!isObject(t) || typeof t.content !== 'string' || !Number.isInteger(t.id) || (t.id as number) < 0)
      throw new TokenizerError(`${file}: added_tokens[${i}] needs a string "content" and a non-negative integer "id"`);
    ids.set(t.content, t.id as number);
  });
  return { ids, type: model.type };
}

/**
 * A Precompiled step (SentencePiece's character map) taken out of a tokenizer.json normalizer, to be run
 * exactly (sentencepiece-normalizer.ts) before the rest, which tokenizers.js runs. In the converted
 * XLM-R normalizer it is the first step anyway; DeBERTa-v2's lower-cases and strips before it, which
 * commutes with the map for all but a few characters.
 */
function takePrecompiled(file: string, normalizer: unknown): { rest: unknown; charsmap?: PrecompiledCharsmap } {
  const charsmapOf = (n: Json): PrecompiledCharsmap => {
    if (typeof n.precompiled_charsmap !== 'string')
      throw new TokenizerError(`${file}: a Precompiled normalizer needs a base64 "precompiled_charsmap"`);
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(n.precompiled_charsmap);
    } catch {
      throw new TokenizerError(`${file}: the Precompiled normalizer's precompiled_charsmap is not base64`);
    }
    return new PrecompiledCharsmap(file, bytes);
  };
  if (!isObject(normalizer)) return { rest: normalizer };
  if (normalizer.type === 'Precompiled') return { rest: null, charsmap: charsmapOf(normalizer) };
  if (normalizer.type !== 'Sequence' || !Array.isArray(normalizer.normalizers)) return { rest: normalizer };
  const steps = normalizer.normalizers as unknown[];
  const at = steps.findIndex((n) => isObject(n) && n.type === 'Precompiled');
  if (at < 0) return { rest: normalizer };
  return { rest: { ...normalizer, normalizers: steps.filter((_, i) => i !== at) }, charsmap: charsmapOf(steps[at] as Json) };
}

/**
 * The document's added tokens, plus the family's special tokens it lacks (those in the vocabulary), as
 * PreTrainedTokenizerFast adds them on load: kept whole wherever they appear in a text. A mask that
 * `lstrip`s (RoBERTa's, XLM-R's) takes the space before it along.
 */
function withSpecialTokens(doc: Json, ids: Map<string, number>, special: SpecialTokenSet | undefined): unknown[] {
  const added = [...((doc.added_tokens ?? []) as Json[])];
  for (const token of special?.tokens ?? []) {
    const id = ids.get(token);
    if (id === undefined || added.some((t) => t.content === token)) continue;
    const lstrip = token === special?.lstripMask;
    added.push({ id, content: token, single_word: false, lstrip, rstrip: false, normalized: false, special: true });
  }
  return added;
}

export interface SpecialTokenSet {
  tokens: string[];
  lstripMask?: string;
}

/** Pieces from a tokenizer.json document run by tokenizers.js (its post-processor is not used). */
function libraryPieces(file: string, doc: Json, format: string, special?: SpecialTokenSet): Pieces {
  const { ids, type } = tokenizerJsonIds(file, doc);
  const { rest, charsmap } = takePrecompiled(file, doc.normalizer ?? null);
  const json: Json = {
    ...doc,
    added_tokens: withSpecialTokens(doc, ids, special),
    normalizer: rest ?? null,
    pre_tokenizer: doc.pre_tokenizer ?? null,
    post_processor: null,
    decoder: null,
  };
  let hf: HfTokenizer;
  try {
    hf = new HfTokenizer(json, {});
  } catch (e) {
    throw new TokenizerError(`${file}: cannot be used: ${(e as Error).message}`);
  }
  const run = (text: string) => hf.encode(charsmap ? applyCharsmap(text, charsmap) : text, { add_special_tokens: false });
  const model = doc.model as Json;
  const exportDoc: Json = { ...doc, added_tokens: json.added_tokens };
  const toTokenizerJson = (framing: TokenizerJsonFraming) => framed(exportDoc, framing);
  if (type !== 'Unigram' || model.byte_fallback !== true)
    return { format: `${format} (${type})`, file, ids, encode: (text) => run(text).ids, toTokenizerJson };
  // tokenizers.js's Unigram has no byte fallback: an unknown run (its token is the run's text) is spelled
  // here as its UTF-8 bytes' <0xNN> pieces, as sentencepiece and the Rust Unigram do.
  const unkId = model.unk_id as number;
  const byteIds = new Map<number, number>();
  for (let b = 0; b < 256; b++) {
    const id = ids.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    if (id === undefined)
      throw new TokenizerError(
        `${file}: byte_fallback is set but the vocabulary has no <0x${b.toString(16).toUpperCase().padStart(2, '0')}> piece`,
      );
    byteIds.set(b, id);
  }
  const encoder = new TextEncoder();
  const encode = (text: string): number[] => {
    const { ids: out, tokens }: { ids: number[]; tokens: string[] } = run(text);
    return out.flatMap((id, i) => (id === unkId ? Array.from(encoder.encode(tokens[i]), (b) => byteIds.get(b) as number) : [id]));
  };
  return { format: `${format} (${type}, byte fallback)`, file, ids, encode, toTokenizerJson };
}

/** BERT WordPiece pieces through the BERT tokenizer, so they are exactly the BERT path's. */
function wordPiecePieces(files: FamilyTokenizerFiles, format: string, file: string, ids: Map<string, number>): Pieces {
  const bert = bertTokenizerFromText(
    {
      tokenizerJson: files.tokenizerJson,
      vocabTxt: files.tokenizerJson ? undefined : files.vocabTxt,
      tokenizerConfig: files.tokenizerConfig,
    },
    { maxSeqLen: Number.MAX_SAFE_INTEGER },
  );
  return {
    format,
    file,
    ids,
    encode: (text) => bert.encode(text).inputIds.slice(1, -1),
    toTokenizerJson: ({ maxSeqLen }) => (bert.withMaxSeqLen?.(maxSeqLen) ?? bert).toTokenizerJson(),
  };
}

/**
 * A text cut at the special tokens it contains (longest first at each position, as transformers'
 * added-token trie): each special token is its own part.
 */
export function splitOnSpecialTokens(text: string, tokens: readonly string[]): { text: string; special: boolean }[] {
  const sorted = tokens.filter((t) => t !== '').sort((a, b) => b.length - a.length);
  const parts: { text: string; special: boolean }[] = [];
  let start = 0;
  for (let i = 0; i < text.length; ) {
    const hit = sorted.find((t) => text.startsWith(t, i));
    if (hit === undefined) {
      i++;
      continue;
    }
    if (i > start) parts.push({ text: text.slice(start, i), special: false });
    parts.push({ text: hit, special: true });
    i += hit.length;
    start = i;
  }
  if (start < text.length || parts.length === 0) parts.push({ text: text.slice(start), special: false });
  return parts;
}

const WORD_CACHE_SIZE = 50_000;

/**
 * Encoding a normalized string word by word ('▁' starts a word), each word's ids cached: the same result
 * as the whole string when no piece holds a '▁' after its first character (sentencepiece's default
 * split_by_whitespace), since then no piece spans two words; otherwise the whole string, uncached.
 */
function wordCache(pieces: readonly { piece: string }[], encode: (normalized: string) => number[]): (normalized: string) => number[] {
  if (pieces.some((p) => p.piece.indexOf('▁', 1) > 0)) return encode;
  const cache = new Map<string, number[]>();
  const encodeWord = (word: string): number[] => {
    let ids = cache.get(word);
    if (ids === undefined) {
      if (cache.size >= WORD_CACHE_SIZE) cache.clear();
      ids = encode(word);
      cache.set(word, ids);
    }
    return ids;
  };
  return (normalized) => {
    const out: number[] = [];
    let start = 0;
    for (let i = normalized.indexOf('▁', 1); i > 0; i = normalized.indexOf('▁', i + 1)) {
      out.push(...encodeWord(normalized.slice(start, i)));
      start = i;
    }
    out.push(...encodeWord(normalized.slice(start)));
    return out;
  };
}

export function piecesOf(
  files: FamilyTokenizerFiles,
  family: TokenizerFamily,
  special: FamilySpecialTokens,
  config: Json | undefined,
): Pieces {
  const wordPieceFamily = family === 'bert' || family === 'distilbert' || family === 'electra';
  const rules = FAMILY_TOKENIZER_RULES[family];
  const specialSet: SpecialTokenSet = {
    tokens: [special.cls, special.sep, special.pad, special.unk, special.mask],
    lstripMask: rules.template === 'double-sep' ? special.mask : undefined,
  };
  if (files.tokenizerJson) {
    const doc = parseJson(files.tokenizerJson);
    const { ids, type } = tokenizerJsonIds(files.tokenizerJson.name, doc);
    if (wordPieceFamily && type === 'WordPiece') return wordPiecePieces(files, 'tokenizer.json (WordPiece)', files.tokenizerJson.name, ids);
    return libraryPieces(files.tokenizerJson.name, doc, 'tokenizer.json', specialSet);
  }
  if (files.vocabJson || files.mergesTxt) {
    if (!files.vocabJson)
      throw new TokenizerError(`${files.mergesTxt?.name}: merges.txt is there but vocab.json is not (byte-level BPE needs both)`);
    if (!files.mergesTxt)
      throw new TokenizerError(`${files.vocabJson.name}: vocab.json is there but merges.txt is not (byte-level BPE needs both)`);
    const vocab = parseVocabJson(files.vocabJson.name, files.vocabJson.text);
    const merges = parseMerges(files.mergesTxt.name, files.mergesTxt.text);
    const addPrefixSpace = config?.add_prefix_space === true;
    return libraryPieces(
      files.vocabJson.name,
      byteLevelBpeJson(vocab, merges, special, { addPrefixSpace }),
      'vocab.json + merges.txt',
      specialSet,
    );
  }
  if (files.sentencePiece) {
    const { name, bytes } = files.sentencePiece;
    const model = parseSentencePieceModel(name, bytes);
    const deberta = { doLowerCase: config?.do_lower_case === true, splitByPunct: config?.split_by_punct === true };
    const doc =
      family === 'xlm-roberta'
        ? sentencePieceJson(model, { kind: 'fairseq', special })
        : sentencePieceJson(model, { kind: 'plain', special, ...deberta });
    // The slow tokenizers run sentencepiece itself: its normalizer (exact), then the model on the whole string.
    const lib = libraryPieces(name, { ...doc, normalizer: null, pre_tokenizer: null }, 'SentencePiece model');
    const charsmap =
      model.normalizerSpec.precompiledCharsmap.length > 0
        ? new PrecompiledCharsmap(name, model.normalizerSpec.precompiledCharsmap)
        : undefined;
    const userDefined = model.pieces.filter((p) => p.type === PieceType.USER_DEFINED).map((p) => p.piece);
    const encodeNormalized = wordCache(model.pieces, lib.encode);
    const encodeWord = (word: string): number[] => {
      const normalized = sentencePieceNormalize(word, charsmap, model.normalizerSpec, userDefined);
      return normalized === '' ? [] : encodeNormalized(normalized);
    };
    const lower = family !== 'xlm-roberta' && deberta.doLowerCase;
    const split = family !== 'xlm-roberta' && deberta.splitByPunct;
    const encodeText = (text: string): number[] => {
      const t = lower ? text.toLowerCase() : text;
      return split ? splitOnPunctuation(t).flatMap(encodeWord) : encodeWord(t);
    };
    // As the slow tokenizers: special tokens written in the text are cut out first (whitespace around
    // them goes, as sentencepiece strips each part's ends), the parts between are encoded on their own.
    const splitTokens = specialSet.tokens.filter((t) => lib.ids.has(t));
    // The export keeps the converter's normalizer and pre-tokenizer, which the Rust library runs.
    const exportDoc: Json = { ...doc, added_tokens: withSpecialTokens(doc, lib.ids, specialSet) };
    return {
      ...lib,
      toTokenizerJson: (framing) => framed(exportDoc, framing),
      encode: (text) =>
        splitOnSpecialTokens(text, splitTokens).flatMap((part) =>
          part.special ? [lib.ids.get(part.text) as number] : encodeText(part.text),
        ),
    };
  }
  if (files.vocabTxt) {
    if (!wordPieceFamily)
      throw new TokenizerError(`${files.vocabTxt.name}: vocab.txt is a WordPiece vocabulary; a ${family} tokenizer is not WordPiece`);
    const ids = new Map<string, number>(Object.entries(vocabFromLines(vocabLines(files.vocabTxt.text))));
    return wordPiecePieces(files, 'vocab.txt (WordPiece)', files.vocabTxt.name, ids);
  }
  throw new TokenizerError('no tokenizer file: expected tokenizer.json, vocab.json + merges.txt, a SentencePiece *.model, or vocab.txt');
}

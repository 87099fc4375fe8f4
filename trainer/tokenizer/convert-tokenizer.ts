/**
 * Tokenizer files other than tokenizer.json turned into the same Hugging Face tokenizer.json document
 * (model, normalizer, pre-tokenizer, added tokens), the way transformers' convert_slow_tokenizer does:
 * - RobertaConverter: `vocab.json` + `merges.txt` -> byte-level BPE;
 * - SpmConverter (XLMRobertaConverter, DebertaV2Converter): a SentencePiece ModelProto -> Unigram, or BPE
 *   with merges recovered from the piece scores.
 * No post-processor is written: the family rules frame the pieces (families.ts).
 */
import { TokenizerError } from './bert-tokenizer-core.ts';
import type { FamilySpecialTokens } from './families.ts';
import { ModelType, PieceType, type SentencePieceModel } from './sentencepiece-model.ts';

type Json = Record<string, unknown>;

export interface AddedToken {
  id: number;
  content: string;
  single_word: false;
  lstrip: boolean;
  rstrip: false;
  normalized: boolean;
  special: boolean;
}

function addedToken(id: number, content: string, opts: { special: boolean; lstrip?: boolean; normalized?: boolean }): AddedToken {
  return {
    id,
    content,
    single_word: false,
    lstrip: opts.lstrip ?? false,
    rstrip: false,
    normalized: opts.normalized ?? false,
    special: opts.special,
  };
}

/** Parses RoBERTa's vocab.json (token -> id). */
export function parseVocabJson(file: string, text: string): Record<string, number> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new TokenizerError(`${file}: not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new TokenizerError(`${file}: expected an object of token -> id`);
  const vocab = Object.create(null) as Record<string, number>;
  for (const [token, id] of Object.entries(value)) {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0)
      throw new TokenizerError(`${file}: ${JSON.stringify(token)} has no non-negative integer id`);
    vocab[token] = id;
  }
  if (Object.keys(vocab).length === 0) throw new TokenizerError(`${file}: the vocabulary is empty`);
  return vocab;
}

/**
 * Parses merges.txt: an optional `#version` first line, then one merge a line, `left right`, highest
 * priority first (RobertaTokenizer reads it the same way; blank lines are ignored).
 */
export function parseMerges(file: string, text: string): [string, string][] {
  const lines = text.split(/\r?\n/);
  if (lines[0]?.startsWith('#version')) lines.shift();
  const merges: [string, string][] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '')
      throw new TokenizerError(`${file}: line ${i + 1} is not a merge "left right": ${JSON.stringify(line)}`);
    merges.push([parts[0], parts[1]]);
  });
  return merges;
}

/** The byte-level BPE tokenizer.json RobertaConverter builds from vocab.json + merges.txt. */
export function byteLevelBpeJson(
  vocab: Record<string, number>,
  merges: [string, string][],
  special: FamilySpecialTokens,
  opts: { addPrefixSpace?: boolean } = {},
): Json {
  const added: AddedToken[] = [];
  for (const token of [special.cls, special.pad, special.sep, special.unk, special.mask]) {
    const id = vocab[token];
    // RoBERTa's <mask> swallows the space before it (AddedToken lstrip=True).
    if (id !== undefined && !added.some((t) => t.content === token))
      added.push(addedToken(id, token, { special: true, lstrip: token === special.mask }));
  }
  added.sort((x, y) => x.id - y.id);
  const addPrefixSpace = opts.addPrefixSpace ?? false;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

const codePoints = (s: string): number => [...s].length;

/**
 * BPE merges recovered from a SentencePiece BPE model's pieces (convert_slow_tokenizer's
 * generate_merges with scores): every split of a piece into two pieces, best-scored merged piece first.
 */
export function mergesFromScores(vocab: readonly [string, number][]): [string, string][] {
  const ids = new Map<string, number>();
  vocab.forEach(([piece], i) => {
    ids.set(piece, i);
  });
  const merges: { l: string; r: string; score: number; order: number }[] = [];
  for (const [piece, score] of vocab) {
    const chars = [...piece];
    const local: { l: string; r: string }[] = [];
    for (let i = 1; i < chars.length; i++) {
      const l = chars.slice(0, i).join('');
      const r = chars.slice(i).join('');
      if (ids.has(l) && ids.has(r)) local.push({ l, r });
    }
    local.sort((x, y) => (ids.get(x.l) as number) - (ids.get(y.l) as number) || (ids.get(x.r) as number) - (ids.get(y.r) as number));
    for (const m of local) merges.push({ ...m, score, order: merges.length });
  }
  // Python's sorted(key=(score, len(l), len(r)), reverse=True) is stable: ties keep their order.
  merges.sort((x, y) => y.score - x.score || codePoints(y.l) - codePoints(x.l) || codePoints(y.r) - codePoints(x.r) || x.order - y.order);
  return merges.map((m) => [m.l, m.r]);
}

export type SentencePieceFlavour =
  /** XLMRobertaTokenizer: fairseq ids (<s> <pad> </s> <unk> first, pieces shifted by one, <mask> last). */
  | { kind: 'fairseq'; special: FamilySpecialTokens }
  /**
   * DebertaV2Tokenizer: the model's own ids, special tokens the model lacks appended after its pieces
   * (DeBERTa-v3's spm.model has no [MASK]: the tokenizer adds it as id 128000); optional lower-casing and
   * punctuation splitting.
   */
  | { kind: 'plain'; special: FamilySpecialTokens; doLowerCase: boolean; splitByPunct: boolean };

/** Base64 of bytes with btoa (no Buffer: this module runs in a browser too). */
export function toBase64(bytes: Uint8Array): string {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

export function fromBase64(text: string): Uint8Array {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** The tokenizer.json SpmConverter (with XLMRobertaConverter's or DebertaV2Converter's changes) builds. */
export function sentencePieceJson(model: SentencePieceModel, flavour: SentencePieceFlavour): Json {
  const { trainerSpec, normalizerSpec } = model;
  let vocab: [string, number][];
  let unkId: number;
  if (flavour.kind === 'fairseq') {
    const s = flavour.special;
    vocab = [
      [s.cls, 0],
      [s.pad, 0],
      [s.sep, 0],
      [s.unk, 0],
      ...model.pieces.slice(3).map((p): [string, number] => [p.piece, p.score]),
      [s.mask, 0],
    ];
    unkId = 3;
  } else {
    vocab = model.pieces.map((p) => [p.piece, p.score]);
    unkId = trainerSpec.unkId;
  }
  const idOf = new Map<string, number>();
  vocab.forEach(([piece], i) => {
    if (!idOf.has(piece)) idOf.set(piece, i);
  });

  // Control pieces are special added tokens, user-defined ones plain added tokens (SpmConverter.tokenizer).
  const added: AddedToken[] = [];
  for (const p of model.pieces) {
    if (p.type !== PieceType.CONTROL && p.type !== PieceType.USER_DEFINED) continue;
    const id = idOf.get(p.piece);
    if (id !== undefined && !added.some((t) => t.content === p.piece))
      added.push(addedToken(id, p.piece, { special: p.type === PieceType.CONTROL }));
  }
  if (flavour.kind === 'fairseq') {
    for (const token of [flavour.special.cls, flavour.special.pad, flavour.special.sep, flavour.special.unk, flavour.special.mask]) {
      const id = idOf.get(token) as number;
      const at = added.findIndex((t) => t.content === token);
      const entry = addedToken(id, token, { special: true, lstrip: token === flavour.special.mask });
      if (at >= 0) added[at] = entry;
      else added.push(entry);
    }
  }
  if (flavour.kind === 'plain') {
    // In the order transformers adds missing special tokens (unk, sep, pad, cls, mask).
    const s = flavour.special;
    let next = vocab.length;
    for (const token of [s.unk, s.sep, s.pad, s.cls, s.mask]) {
      if (!idOf.has(token) && !added.some((t) => t.content === token)) added.push(addedToken(next++, token, { special: true }));
    }
  }
  added.sort((x, y) => x.id - y.id);

  const charsmap =
    normalizerSpec.precompiledCharsmap.length > 0
      ? [{ type: 'Precompiled', precompiled_charsmap: toBase64(normalizerSpec.precompiledCharsmap) }]
      : [];
  const prepend = normalizerSpec.addDummyPrefix ? 'always' : 'never';
  const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: prepend, split: true };
  let normalizer: Json;
  let preTokenizer: Json;
  if (flavour.kind === 'fairseq') {
    normalizer = {
      type: 'Sequence',
      normalizers: [
        ...charsmap,
        { type: 'Strip', strip_left: false, strip_right: true },
        { type: 'Replace', pattern: { Regex: ' {2,}' }, content: '▁' },
      ],
    };
    preTokenizer = metaspace;
  } else {
    normalizer = {
      type: 'Sequence',
      normalizers: [
        ...(flavour.doLowerCase ? [{ type: 'Lowercase' }] : []),
        { type: 'Strip', strip_left: true, strip_right: true },
        ...charsmap,
        { type: 'Replace', pattern: { Regex: ' {2,}' }, content: ' ' },
      ],
    };
    preTokenizer = {
      type: 'Sequence',
      pretokenizers: [...(flavour.splitByPunct ? [{ type: 'Punctuation', behavior: 'Isolated' }] : []), metaspace],
    };
  }

  let tokenizerModel: Json;
  if (trainerSpec.modelType === ModelType.UNIGRAM) {
    // sentencepiece itself spells unknown characters as <0xNN> byte pieces when the model has them.
    tokenizerModel = { type: 'Unigram', unk_id: unkId, vocab, byte_fallback: trainerSpec.byteFallback };
  } else {
    const bpeVocab = Object.create(null) as Record<string, number>;
    vocab.forEach(([piece], i) => {
      bpeVocab[piece] = i;
    });
    tokenizerModel = {
      type: 'BPE',
      dropout: null,
      unk_token: vocab[unkId][0],
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: true,
      // sentencepiece itself spells unknown characters as <0xNN> byte pieces when the model has them.
      byte_fallback: trainerSpec.byteFallback,
      ignore_merges: false,
      vocab: bpeVocab,
      merges: mergesFromScores(vocab),
    };
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer,
    pre_tokenizer: preTokenizer,
    post_processor: null,
    decoder: { type: 'Metaspace', replacement: '▁', prepend_scheme: prepend, split: true },
    model: tokenizerModel,
  };
}

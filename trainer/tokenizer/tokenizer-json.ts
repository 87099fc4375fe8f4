/**
 * The Hugging Face `tokenizer.json` of a BERT WordPiece tokenizer, built from a `vocab.txt` — the same
 * document `BertTokenizerFast` saves for `bert-base-uncased`: BertNormalizer (clean_text,
 * handle_chinese_chars, strip_accents, lowercase), BertPreTokenizer, WordPiece (`[UNK]`, `##`, 100 chars
 * a word at most), TemplateProcessing `[CLS] $A [SEP]` / `[CLS] $A [SEP] $B:1 [SEP]:1`, WordPiece decoder.
 */

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

export interface BertNormalizerJson {
  type: 'BertNormalizer';
  clean_text: boolean;
  handle_chinese_chars: boolean;
  /** null: strip accents exactly when lower-casing. */
  strip_accents: boolean | null;
  lowercase: boolean;
}

export interface WordPieceModelJson {
  type: 'WordPiece';
  unk_token: string;
  continuing_subword_prefix: string;
  max_input_chars_per_word: number;
  vocab: Record<string, number>;
}

type TemplatePiece = { SpecialToken: { id: string; type_id: number } } | { Sequence: { id: 'A' | 'B'; type_id: number } };

type PostProcessorJson = {
  type: 'TemplateProcessing';
  single: TemplatePiece[];
  pair: TemplatePiece[];
  special_tokens: Record<string, { id: string; ids: number[]; tokens: string[] }>;
};

/** How the Rust library serialises `truncation=True, max_length=N` (longest-first for pairs). */
export interface TruncationJson {
  direction: 'Right';
  max_length: number;
  strategy: 'LongestFirst';
  stride: 0;
}

/** How the Rust library serialises padding each batch to its longest row, on the right. */
export interface PaddingJson {
  strategy: 'BatchLongest';
  direction: 'Right';
  pad_to_multiple_of: null;
  pad_id: number;
  pad_type_id: 0;
  pad_token: string;
}

export interface BertTokenizerJson {
  version: '1.0';
  truncation: TruncationJson | null;
  padding: PaddingJson | null;
  added_tokens: AddedTokenJson[];
  normalizer: BertNormalizerJson;
  pre_tokenizer: { type: 'BertPreTokenizer' };
  post_processor: PostProcessorJson;
  decoder: { type: 'WordPiece'; prefix: string; cleanup: boolean };
  model: WordPieceModelJson;
}

export interface SpecialTokens {
  pad: string;
  unk: string;
  cls: string;
  sep: string;
  mask: string;
}

export const DEFAULT_SPECIAL_TOKENS: SpecialTokens = { pad: '[PAD]', unk: '[UNK]', cls: '[CLS]', sep: '[SEP]', mask: '[MASK]' };

/**
 * Token -> id the way `BertTokenizer.load_vocab` and the Rust `WordPiece::read_file` read `vocab.txt`:
 * one token a line, the id is the 0-based line number, a repeated token keeps its last line. The map has
 * no prototype, so a token such as `__proto__` is an ordinary key.
 */
export function vocabFromLines(lines: readonly string[]): Record<string, number> {
  const vocab: Record<string, number> = Object.create(null) as Record<string, number>;
  lines.forEach((token, id) => {
    vocab[token] = id;
  });
  return vocab;
}

/** Splits a vocab.txt's text into tokens (LF or CRLF; one final newline is not a token). */
export function vocabLines(text: string): string[] {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export function bertTokenizerJson(
  vocab: Record<string, number>,
  opts: { lowercase: boolean; stripAccents?: boolean | null; handleChineseChars?: boolean; specialTokens?: SpecialTokens },
): BertTokenizerJson {
  const special = opts.specialTokens ?? DEFAULT_SPECIAL_TOKENS;
  const added: AddedTokenJson[] = [];
  for (const content of [special.pad, special.unk, special.cls, special.sep, special.mask]) {
    const id = vocab[content];
    if (id !== undefined && !added.some((t) => t.content === content)) {
      added.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    }
  }
  added.sort((x, y) => x.id - y.id);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: opts.handleChineseChars ?? true,
      strip_accents: opts.stripAccents ?? null,
      lowercase: opts.lowercase,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: bertTemplate(special, vocab),
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: special.unk, continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

/** `[CLS] $A [SEP]` and `[CLS] $A [SEP] $B:1 [SEP]:1`, as BertTokenizerFast saves them. */
function bertTemplate(special: Pick<SpecialTokens, 'cls' | 'sep'>, ids: Record<string, number>): PostProcessorJson {
  const entry = (token: string) => ({ id: token, ids: ids[token] === undefined ? [] : [ids[token]], tokens: [token] });
  return {
    type: 'TemplateProcessing',
    single: [
      { SpecialToken: { id: special.cls, type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: special.sep, type_id: 0 } },
    ],
    pair: [
      { SpecialToken: { id: special.cls, type_id: 0 } },
      { Sequence: { id: 'A', type_id: 0 } },
      { SpecialToken: { id: special.sep, type_id: 0 } },
      { Sequence: { id: 'B', type_id: 1 } },
      { SpecialToken: { id: special.sep, type_id: 1 } },
    ],
    special_tokens: { [special.cls]: entry(special.cls), [special.sep]: entry(special.sep) },
  };
}

/** What a loaded tokenizer settled, to write it back out as one self-describing tokenizer.json. */
export interface SettledBertTokenizer {
  normalizer: BertNormalizerJson;
  special: Pick<SpecialTokens, 'cls' | 'sep' | 'pad'>;
  clsId: number;
  sepId: number;
  padId: number;
  maxSeqLen: number;
}

/**
 * A tokenizer.json document (its model, added tokens and pre-tokenizer kept) made to say everything the
 * tokenizer does: the settled normalizer (so no tokenizer_config.json is needed to get lower-casing right),
 * the BERT template, the WordPiece decoder, truncation to maxSeqLen (longest-first) and padding to the
 * batch's longest row. The Rust library (Python `tokenizers`) applies truncation and padding from the file;
 * transformers and tokenizers.js take them per call.
 */
export function settledTokenizerJson(doc: Record<string, unknown>, s: SettledBertTokenizer): Record<string, unknown> {
  const ids = { [s.special.cls]: s.clsId, [s.special.sep]: s.sepId };
  const truncation: TruncationJson = { direction: 'Right', max_length: s.maxSeqLen, strategy: 'LongestFirst', stride: 0 };
  const padding: PaddingJson = {
    strategy: 'BatchLongest',
    direction: 'Right',
    pad_to_multiple_of: null,
    pad_id: s.padId,
    pad_type_id: 0,
    pad_token: s.special.pad,
  };
  return {
    version: '1.0',
    truncation,
    padding,
    added_tokens: doc.added_tokens ?? [],
    normalizer: s.normalizer,
    pre_tokenizer: doc.pre_tokenizer ?? { type: 'BertPreTokenizer' },
    post_processor: bertTemplate(s.special, ids),
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: doc.model,
  };
}

/**
 * What each model family's Hugging Face tokenizer adds around the word pieces: its special tokens, how a
 * single text and a pair are framed (and with which token types), and how position ids are counted.
 * One row per family; the loader and the encoder read this table and know no family by name.
 */

export type TokenizerFamily = 'bert' | 'distilbert' | 'electra' | 'roberta' | 'xlm-roberta' | 'deberta-v2' | 'modernbert';

export const TOKENIZER_FAMILIES: readonly TokenizerFamily[] = [
  'bert',
  'distilbert',
  'electra',
  'roberta',
  'xlm-roberta',
  'deberta-v2',
  'modernbert',
];

/** The tokenizer rules named by a model family's `model_type` (this table's rows are named after them). */
export function tokenizerFamilyFor(modelType: string): TokenizerFamily {
  const found = TOKENIZER_FAMILIES.find((t) => t === modelType);
  if (found === undefined) throw new Error(`no tokenizer rules for model_type "${modelType}"`);
  return found;
}

export interface FamilySpecialTokens {
  cls: string;
  sep: string;
  pad: string;
  unk: string;
  mask: string;
}

export interface FamilyTokenizerRules {
  /** Defaults; a directory's tokenizer_config.json (`cls_token`, ...) overrides them. */
  special: FamilySpecialTokens;
  /**
   * `cls-sep`: `[CLS] A [SEP]` / `[CLS] A [SEP] B [SEP]`, token types 0 up to the first [SEP], 1 after
   * (BertTokenizer, DebertaV2Tokenizer, ModernBERT's TemplateProcessing).
   * `double-sep`: `<s> A </s>` / `<s> A </s></s> B </s>`, token types all 0 (RobertaTokenizer, XLMRobertaTokenizer).
   */
  template: 'cls-sep' | 'double-sep';
  /** Whether the family's tokenizer hands token_type_ids to the model (its `model_input_names`). */
  tokenTypeIdsInput: boolean;
  /**
   * `sequential`: 0, 1, 2, ... (the model's buffered position_ids).
   * `padding-offset`: RoBERTa's create_position_ids_from_input_ids: padding_idx + 1 onward over real
   * tokens, padding_idx on pads.
   */
  positions: 'sequential' | 'padding-offset';
}

const BERT_SPECIAL: FamilySpecialTokens = { cls: '[CLS]', sep: '[SEP]', pad: '[PAD]', unk: '[UNK]', mask: '[MASK]' };
const ROBERTA_SPECIAL: FamilySpecialTokens = { cls: '<s>', sep: '</s>', pad: '<pad>', unk: '<unk>', mask: '<mask>' };

export const FAMILY_TOKENIZER_RULES: Readonly<Record<TokenizerFamily, FamilyTokenizerRules>> = {
  bert: { special: BERT_SPECIAL, template: 'cls-sep', tokenTypeIdsInput: true, positions: 'sequential' },
  distilbert: { special: BERT_SPECIAL, template: 'cls-sep', tokenTypeIdsInput: false, positions: 'sequential' },
  electra: { special: BERT_SPECIAL, template: 'cls-sep', tokenTypeIdsInput: true, positions: 'sequential' },
  roberta: { special: ROBERTA_SPECIAL, template: 'double-sep', tokenTypeIdsInput: false, positions: 'padding-offset' },
  'xlm-roberta': { special: ROBERTA_SPECIAL, template: 'double-sep', tokenTypeIdsInput: false, positions: 'padding-offset' },
  'deberta-v2': { special: BERT_SPECIAL, template: 'cls-sep', tokenTypeIdsInput: true, positions: 'sequential' },
  modernbert: { special: BERT_SPECIAL, template: 'cls-sep', tokenTypeIdsInput: false, positions: 'sequential' },
};

/** How many special tokens the family's template adds to a single text, and to a pair. */
export function specialTokenCount(rules: FamilyTokenizerRules, pair: boolean): number {
  if (!pair) return 2;
  return rules.template === 'double-sep' ? 4 : 3;
}

/** Template framing of already truncated pieces: ids and token types. */
export function frame(
  rules: FamilyTokenizerRules,
  ids: { cls: number; sep: number },
  a: readonly number[],
  b?: readonly number[],
): { inputIds: number[]; tokenTypeIds: number[] } {
  const inputIds = [ids.cls, ...a, ids.sep];
  if (b === undefined) return { inputIds, tokenTypeIds: new Array<number>(inputIds.length).fill(0) };
  if (rules.template === 'double-sep') {
    inputIds.push(ids.sep, ...b, ids.sep);
    return { inputIds, tokenTypeIds: new Array<number>(inputIds.length).fill(0) };
  }
  const firstLen = inputIds.length;
  inputIds.push(...b, ids.sep);
  const tokenTypeIds = new Array<number>(inputIds.length).fill(0).fill(1, firstLen);
  return { inputIds, tokenTypeIds };
}

/**
 * RoBERTa's position ids (transformers' create_position_ids_from_input_ids, past length 0): a real token's
 * position is padding_idx + its 1-based index among the real tokens; a pad keeps padding_idx.
 */
export function paddingOffsetPositionIds(inputIds: readonly number[], paddingIdx: number): number[] {
  let seen = 0;
  return inputIds.map((id) => (id === paddingIdx ? paddingIdx : paddingIdx + ++seen));
}

/** The position ids the family's model uses for one (possibly padded) row. */
export function familyPositionIds(rules: FamilyTokenizerRules, inputIds: readonly number[], padId: number): number[] {
  if (rules.positions === 'padding-offset') return paddingOffsetPositionIds(inputIds, padId);
  return inputIds.map((_, i) => i);
}

type TemplatePiece = { SpecialToken: { id: string; type_id: number } } | { Sequence: { id: 'A' | 'B'; type_id: number } };

/**
 * The family's template as a tokenizer.json TemplateProcessing post-processor (what BertTokenizerFast,
 * DebertaV2Converter and XLMRobertaConverter save; RoBERTa's RobertaProcessing frames the same ids).
 */
export function templateProcessingJson(
  rules: FamilyTokenizerRules,
  tokens: { cls: string; sep: string },
  ids: { cls: number; sep: number },
): Record<string, unknown> {
  const special = (id: string, typeId: number): TemplatePiece => ({ SpecialToken: { id, type_id: typeId } });
  const sequence = (id: 'A' | 'B', typeId: number): TemplatePiece => ({ Sequence: { id, type_id: typeId } });
  const single = [special(tokens.cls, 0), sequence('A', 0), special(tokens.sep, 0)];
  const pair =
    rules.template === 'double-sep'
      ? [...single, special(tokens.sep, 0), sequence('B', 0), special(tokens.sep, 0)]
      : [...single, sequence('B', 1), special(tokens.sep, 1)];
  return {
    type: 'TemplateProcessing',
    single,
    pair,
    special_tokens: {
      [tokens.cls]: { id: tokens.cls, ids: [ids.cls], tokens: [tokens.cls] },
      [tokens.sep]: { id: tokens.sep, ids: [ids.sep], tokens: [tokens.sep] },
    },
  };
}

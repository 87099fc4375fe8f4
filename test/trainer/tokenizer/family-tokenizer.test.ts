/**
 * The family tokenizers (load-tokenizer.ts) on files written here: each format loads and gives the ids
 * worked out by hand from its tiny vocabulary; each family frames singles and pairs with its own special
 * tokens and token types; truncation; RoBERTa's position ids; and a refused directory says what is wrong.
 * Parity with transformers' own tokenizers on real-sized files is test/parity/tokenizer_parity.py.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { Tokenizer } from '@huggingface/tokenizers';
import { type BertTokenizer, loadBertTokenizer, TokenizerError } from '../../../trainer/tokenizer/bert-tokenizer.ts';
import { fromBase64, mergesFromScores, toBase64 } from '../../../trainer/tokenizer/convert-tokenizer.ts';
import { FAMILY_TOKENIZER_RULES, paddingOffsetPositionIds } from '../../../trainer/tokenizer/families.ts';
import { readerEncode } from '../../../trainer/tokenizer/family-tokenizer.ts';
import { loadTokenizer, type TokenizerFamily } from '../../../trainer/tokenizer/load-tokenizer.ts';
import { PieceType } from '../../../trainer/tokenizer/sentencepiece-model.ts';
import { sentencePieceNormalize, splitOnPunctuation } from '../../../trainer/tokenizer/sentencepiece-normalizer.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const work = mkdtempSync(join(tmpdir(), 'family-tokenizer-'));
let dirs = 0;

function dirWith(files: Record<string, string | Uint8Array>): string {
  const dir = join(work, `d${dirs++}`);
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

// ---- a byte-level BPE (RoBERTa): 'Ġ' is the byte-level form of a space.
const BPE_VOCAB: Record<string, number> = {
  '<s>': 0,
  '<pad>': 1,
  '</s>': 2,
  '<unk>': 3,
  h: 4,
  e: 5,
  l: 6,
  o: 7,
  Ġ: 8,
  w: 9,
  r: 10,
  d: 11,
  he: 12,
  ll: 13,
  hell: 14,
  hello: 15,
  Ġw: 16,
  Ġwo: 17,
  '<mask>': 18,
};
const BPE_MERGES = '#version: 0.2\nh e\nl l\nhe ll\nhell o\nĠ w\nĠw o\n';

// ---- a SentencePiece ModelProto written field by field (sentencepiece_model.proto numbers).
interface Piece {
  piece: string;
  score: number;
  type?: number;
}
function modelProto(pieces: Piece[], opts: { modelType?: number; unkId?: number; byteFallback?: boolean } = {}): Uint8Array {
  const w = new BinaryWriter();
  for (const p of pieces) {
    w.tag(1, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(p.piece);
    w.tag(2, WireType.Bit32).float(p.score);
    if (p.type !== undefined) w.tag(3, WireType.Varint).int32(p.type);
    w.join();
  }
  w.tag(2, WireType.LengthDelimited).fork();
  w.tag(3, WireType.Varint).int32(opts.modelType ?? 1);
  if (opts.byteFallback) w.tag(35, WireType.Varint).bool(true);
  w.tag(40, WireType.Varint).int32(opts.unkId ?? 0);
  w.join();
  w.tag(3, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string('identity').join();
  return w.finish();
}

/** XLM-R's layout: <unk> <s> </s> first, as fairseq-converted models have them. */
const XLMR_PIECES: Piece[] = [
  { piece: '<unk>', score: 0, type: PieceType.UNKNOWN },
  { piece: '<s>', score: 0, type: PieceType.CONTROL },
  { piece: '</s>', score: 0, type: PieceType.CONTROL },
  { piece: '▁', score: -2 },
  { piece: '▁hello', score: -1 },
  { piece: '▁world', score: -1 },
  ...['h', 'e', 'l', 'o', 'w', 'r', 'd'].map((c) => ({ piece: c, score: -3 })),
];

/** DeBERTa-v3's layout: [PAD] [CLS] [SEP] [UNK] first, [MASK] user-defined. */
const DEBERTA_PIECES: Piece[] = [
  { piece: '[PAD]', score: 0, type: PieceType.CONTROL },
  { piece: '[CLS]', score: 0, type: PieceType.CONTROL },
  { piece: '[SEP]', score: 0, type: PieceType.CONTROL },
  { piece: '[UNK]', score: 0, type: PieceType.UNKNOWN },
  { piece: '[MASK]', score: 0, type: PieceType.USER_DEFINED },
  { piece: '▁', score: -2 },
  { piece: '▁hello', score: -1 },
  { piece: '▁world', score: -1 },
  ...['h', 'e', 'l', 'o', 'w', 'r', 'd'].map((c) => ({ piece: c, score: -3 })),
];

const WORDPIECE_VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'world', '##s', 'a'];

async function load(family: TokenizerFamily, files: Record<string, string | Uint8Array>, maxSeqLen = 64) {
  return loadTokenizer(dirWith(files), { family, maxSeqLen });
}

test('vocab.json + merges.txt: byte-level BPE pieces, <s> A </s></s> B </s> with token types all 0 (roberta)', async () => {
  const tok = await load('roberta', { 'vocab.json': JSON.stringify(BPE_VOCAB), 'merges.txt': BPE_MERGES });
  assert.equal(tok.format, 'vocab.json + merges.txt (BPE)');
  assert.deepEqual(tok.pieces('hello world'), [15, 17, 10, 6, 11]); // hello Ġwo r l d
  assert.deepEqual([tok.clsId, tok.sepId, tok.padId, tok.unkId, tok.maskId], [0, 2, 1, 3, 18]);
  const single = tok.encode('hello');
  assert.deepEqual(single, { inputIds: [0, 15, 2], tokenTypeIds: [0, 0, 0], attentionMask: [1, 1, 1], truncatedTokens: 0 });
  const pair = tok.encodePair('hello', 'hello world');
  assert.deepEqual(pair.inputIds, [0, 15, 2, 2, 15, 17, 10, 6, 11, 2]);
  assert.deepEqual(pair.tokenTypeIds, new Array(10).fill(0));
  assert.equal(FAMILY_TOKENIZER_RULES.roberta.tokenTypeIdsInput, false);
});

test('a SentencePiece .model (ModelProto) converts with fairseq ids for xlm-roberta', async () => {
  const tok = await load('xlm-roberta', { 'sentencepiece.bpe.model': modelProto(XLMR_PIECES) });
  assert.equal(tok.format, 'SentencePiece model (Unigram)');
  // ids: <s> 0, <pad> 1, </s> 2, <unk> 3, piece k -> k + 1 from piece 3 on, <mask> last.
  assert.deepEqual([tok.clsId, tok.padId, tok.sepId, tok.unkId, tok.maskId, tok.vocabSize], [0, 1, 2, 3, 14, 15]);
  assert.deepEqual(tok.encode('  hello   world ').inputIds, [0, 5, 6, 2]);
  // 'q' is in no piece: the unknown id; the space before it is the lone '▁' piece.
  assert.deepEqual(tok.encode('hello q').inputIds, [0, 5, 4, 3, 2]);
  assert.deepEqual(tok.encodePair('hello', 'world').inputIds, [0, 5, 2, 2, 6, 2]);
  assert.deepEqual(tok.encode('').inputIds, [0, 2]);
  // A piece across words (a model trained without split_by_whitespace) is still found.
  const across = await load('xlm-roberta', {
    'sentencepiece.bpe.model': modelProto([...XLMR_PIECES, { piece: '▁hello▁world', score: -0.5 }]),
  });
  assert.deepEqual(across.encode('hello world').inputIds, [0, XLMR_PIECES.length + 1, 2]);
  assert.deepEqual(across.encode('world hello').inputIds, [0, 6, 5, 2]);
});

test('a Unigram model with byte_fallback spells unknown characters as <0xNN> pieces, as sentencepiece does', async () => {
  const bytePieces = Array.from({ length: 256 }, (_, b) => ({
    piece: `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`,
    score: 0,
    type: PieceType.BYTE,
  }));
  const tok = await load('xlm-roberta', { 'sentencepiece.bpe.model': modelProto([...XLMR_PIECES, ...bytePieces], { byteFallback: true }) });
  assert.equal(tok.format, 'SentencePiece model (Unigram, byte fallback)');
  const byteId = (b: number) => XLMR_PIECES.length + b + 1; // fairseq ids: piece index + 1
  // 'q' and '☃' (E2 98 83) are in no piece: their UTF-8 bytes.
  assert.deepEqual(tok.pieces('hello q☃'), [5, 4, byteId(0x71), byteId(0xe2), byteId(0x98), byteId(0x83)]);
  assert.deepEqual(tok.pieces('hello world'), [5, 6]);
});

test('spm.model with the model ids, [CLS] A [SEP] B [SEP] and token types 0/1 (deberta-v2)', async () => {
  const tok = await load('deberta-v2', { 'spm.model': modelProto(DEBERTA_PIECES, { unkId: 3 }) });
  assert.deepEqual([tok.padId, tok.clsId, tok.sepId, tok.unkId, tok.maskId], [0, 1, 2, 3, 4]);
  const pair = tok.encodePair('hello', 'world hello');
  assert.deepEqual(pair.inputIds, [1, 6, 2, 7, 6, 2]);
  assert.deepEqual(pair.tokenTypeIds, [0, 0, 0, 1, 1, 1]);
  // tokenizer_config.json's do_lower_case and split_by_punct, as DebertaV2Tokenizer applies them.
  const lower = await load('deberta-v2', {
    'spm.model': modelProto(DEBERTA_PIECES, { unkId: 3 }),
    'tokenizer_config.json': JSON.stringify({ do_lower_case: true, split_by_punct: true }),
  });
  assert.deepEqual(lower.encode('HELLO!world').inputIds, [1, 6, 5, 3, 7, 2]); // ▁hello ▁ [UNK]('!') ▁world
  // DeBERTa-v3's spm.model has no [MASK]: it follows the pieces (id 128000 there), kept whole in a text.
  const v3Pieces = DEBERTA_PIECES.filter((p) => p.piece !== '[MASK]');
  const v3 = await load('deberta-v2', { 'spm.model': modelProto(v3Pieces, { unkId: 3 }) });
  assert.equal(v3.maskId, v3Pieces.length);
  assert.deepEqual(v3.encode('hello [MASK] world').inputIds, [1, 5, v3Pieces.length, 6, 2]);
});

test('a BPE-type SentencePiece model loads with merges recovered from the piece scores', async () => {
  const pieces: Piece[] = [
    { piece: '<unk>', score: 0, type: PieceType.UNKNOWN },
    { piece: '▁h', score: -1 },
    { piece: '▁he', score: -2 },
    { piece: '▁', score: -3 },
    { piece: 'h', score: -4 },
    { piece: 'e', score: -5 },
  ];
  assert.deepEqual(mergesFromScores(pieces.map((p) => [p.piece, p.score])), [
    ['▁', 'h'],
    ['▁h', 'e'],
  ]);
  const tok = await load('deberta-v2', {
    'spm.model': modelProto(pieces, { modelType: 2 }),
    'tokenizer_config.json': JSON.stringify({ cls_token: '▁', sep_token: '▁', pad_token: '<unk>', unk_token: '<unk>' }),
  });
  assert.equal(tok.format, 'SentencePiece model (BPE)');
  assert.deepEqual(tok.pieces('he eh'), [2, 3, 5, 4]); // ▁he ▁ e h
});

test('tokenizer.json: WordPiece, BPE and Unigram models load; a bert directory gives the BERT path ids', async () => {
  const vocab = Object.fromEntries(WORDPIECE_VOCAB.map((t, i) => [t, i]));
  const wordPiece = {
    version: '1.0',
    added_tokens: [],
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
  for (const family of ['bert', 'distilbert', 'electra', 'modernbert'] as const) {
    const tok = await load(family, { 'tokenizer.json': JSON.stringify(wordPiece) });
    const pair = tok.encodePair('Hellos', 'a World');
    assert.deepEqual(pair.inputIds, [2, 5, 7, 3, 8, 6, 3], family);
    assert.deepEqual(pair.tokenTypeIds, [0, 0, 0, 0, 1, 1, 1], family);
  }
  const bpe = await load('modernbert', {
    'tokenizer.json': JSON.stringify({
      version: '1.0',
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        vocab: { ...BPE_VOCAB, '[CLS]': 19, '[SEP]': 20, '[PAD]': 21, '[UNK]': 22 },
        merges: BPE_MERGES.split('\n').slice(1, -1),
      },
    }),
  });
  assert.equal(bpe.format, 'tokenizer.json (BPE)');
  assert.deepEqual(bpe.encode('hello world').inputIds, [19, 15, 17, 10, 6, 11, 20]);
  const unigram = await load('xlm-roberta', {
    'tokenizer.json': JSON.stringify({
      version: '1.0',
      added_tokens: [],
      normalizer: null,
      pre_tokenizer: { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true },
      model: {
        type: 'Unigram',
        unk_id: 3,
        vocab: [['<s>', 0], ['<pad>', 0], ['</s>', 0], ['<unk>', 0], ...XLMR_PIECES.slice(3).map((p) => [p.piece, p.score]), ['<mask>', 0]],
      },
    }),
  });
  assert.deepEqual(unigram.encode('hello world').inputIds, [0, 5, 6, 2]);

  // The BERT vocabulary through both loaders: the same ids.
  const vocabTxt = join(root, 'assets/bert-base-uncased/vocab.txt');
  const dir = dirWith({});
  copyFileSync(vocabTxt, join(dir, 'vocab.txt'));
  const bert = await loadBertTokenizer(dir, { maxSeqLen: 24 });
  const family = await loadTokenizer(dir, { family: 'bert', maxSeqLen: 24 });
  for (const [a, b] of [
    ['Café déjà vu, naïve façade!', 'Zürich'],
    ['中文 and English 😀', 'a much longer second sentence that must be cut down to size here'],
    ['', ''],
  ]) {
    assert.deepEqual(family.encode(a).inputIds, bert.encode(a).inputIds);
    const ours = family.encodePair(a, b);
    const theirs = bert.encode(a, b);
    assert.deepEqual([ours.inputIds, ours.tokenTypeIds], [theirs.inputIds, theirs.tokenTypeIds]);
    // Through the data reader's encode(text, pair?), as the BERT tokenizer is called.
    const viaReader: Pick<BertTokenizer, 'encode'> = { encode: readerEncode(family) };
    assert.deepEqual(viaReader.encode(a, b).inputIds, theirs.inputIds);
    assert.deepEqual(viaReader.encode(a).truncatedTokens, bert.encode(a).truncatedTokens);
  }
});

test('truncation: singles keep maxSeqLen - 2 pieces; pairs longest_first (Rust split) or only_second', async () => {
  const tok = await load('roberta', { 'vocab.json': JSON.stringify(BPE_VOCAB), 'merges.txt': BPE_MERGES }, 7);
  const long = 'hello world'; // 5 pieces: hello Ġwo r l d
  assert.deepEqual(tok.encode(long), {
    inputIds: [0, 15, 17, 10, 6, 11, 2],
    tokenTypeIds: new Array(7).fill(0),
    attentionMask: new Array(7).fill(1),
    truncatedTokens: 0,
  });
  const short = await load('roberta', { 'vocab.json': JSON.stringify(BPE_VOCAB), 'merges.txt': BPE_MERGES }, 5);
  assert.deepEqual(short.encode(long).inputIds, [0, 15, 17, 10, 2]);
  assert.equal(short.encode(long).truncatedTokens, 2);
  // Pair budget 9 - 4 = 5: 1 + 5 pieces -> the longer second side keeps 4.
  const pairTok = await load('roberta', { 'vocab.json': JSON.stringify(BPE_VOCAB), 'merges.txt': BPE_MERGES }, 9);
  assert.deepEqual(pairTok.encodePair('hello', long).inputIds, [0, 15, 2, 2, 15, 17, 10, 6, 2]);
  // Both sides over: budget 5 splits 2 / 3, the odd token to the longer (here equal: the second).
  assert.deepEqual(pairTok.encodePair(long, long).inputIds, [0, 15, 17, 2, 2, 15, 17, 10, 2]);
  // Budget 11 - 4 = 7 for 5 + 5 pieces: longest_first keeps 3 + 4, only_second 5 + 2.
  const wide = await load('roberta', { 'vocab.json': JSON.stringify(BPE_VOCAB), 'merges.txt': BPE_MERGES }, 11);
  assert.deepEqual(wide.encodePair(long, long).inputIds, [0, 15, 17, 10, 2, 2, 15, 17, 10, 6, 2]);
  assert.deepEqual(wide.encodePair(long, long, 'only_second').inputIds, [0, 15, 17, 10, 6, 11, 2, 2, 15, 17, 2]);
  assert.equal(wide.encodePair(long, long, 'only_second').truncatedTokens, 3);
  // As the Rust library: the second side may not be cut to nothing.
  assert.throws(() => pairTok.encodePair(long, 'hello', 'only_second'), /only_second truncation: the first text's 5 pieces leave no room/);
});

test('position ids: RoBERTa counts from padding_idx + 1 and pads keep padding_idx; others count from 0', async () => {
  const ids = [0, 15, 17, 2, 1, 1];
  const pad = 1;
  // The rule spelled independently: cumulative count of non-pad tokens, times the mask, plus padding_idx.
  let count = 0;
  const expected = ids.map((id) => {
    const real = id === pad ? 0 : 1;
    count += real;
    return count * real + pad;
  });
  assert.deepEqual(paddingOffsetPositionIds(ids, pad), expected);
  assert.deepEqual(expected, [2, 3, 4, 5, 1, 1]);
  const roberta = await load('roberta', { 'vocab.json': JSON.stringify(BPE_VOCAB), 'merges.txt': BPE_MERGES });
  assert.deepEqual(roberta.positionIds(ids), [2, 3, 4, 5, 1, 1]);
  const deberta = await load('deberta-v2', { 'spm.model': modelProto(DEBERTA_PIECES, { unkId: 3 }) });
  assert.deepEqual(deberta.positionIds([1, 6, 2, 0, 0]), [0, 1, 2, 3, 4]);
});

test('the SentencePiece normalizer drops leading, trailing and repeated spaces and adds the dummy prefix', () => {
  const settings = { addDummyPrefix: true, removeExtraWhitespaces: true, escapeWhitespaces: true };
  assert.equal(sentencePieceNormalize('  a   b  ', undefined, settings), '▁a▁b');
  assert.equal(sentencePieceNormalize('   ', undefined, settings), '');
  assert.equal(sentencePieceNormalize('a [MASK]b', undefined, settings, ['[MASK]']), '▁a▁[MASK]b');
  assert.equal(sentencePieceNormalize(' a  b', undefined, { ...settings, addDummyPrefix: false, removeExtraWhitespaces: false }), '▁a▁▁b');
  assert.deepEqual(splitOnPunctuation("it's (ok)"), ['it', "'", 's ', '(', 'ok', ')']);
});

test('toTokenizerJson: the exported document, run by tokenizers.js with its template, gives our ids and types', async () => {
  const texts: [string, string | undefined][] = [
    ['hello world', undefined],
    ['  hello   world ', 'world hello'],
    ['hello q', 'hello'],
    ['', 'world'],
  ];
  const tokenizers = [
    await load('roberta', { 'vocab.json': JSON.stringify(BPE_VOCAB), 'merges.txt': BPE_MERGES }),
    await load('xlm-roberta', { 'sentencepiece.bpe.model': modelProto(XLMR_PIECES) }),
    await load('deberta-v2', { 'spm.model': modelProto(DEBERTA_PIECES, { unkId: 3 }) }),
    await load('bert', { 'vocab.txt': WORDPIECE_VOCAB.join('\n') }),
  ];
  for (const tok of tokenizers) {
    const json = tok.toTokenizerJson();
    assert.deepEqual(json.truncation, { direction: 'Right', max_length: 64, strategy: 'LongestFirst', stride: 0 }, tok.family);
    assert.equal((json.padding as { pad_id: number }).pad_id, tok.padId, tok.family);
    const theirs = new Tokenizer(json, {});
    for (const [a, b] of texts) {
      const ours = b === undefined ? tok.encode(a) : tok.encodePair(a, b);
      const e = theirs.encode(a, { text_pair: b ?? null, return_token_type_ids: true });
      assert.deepEqual([e.ids, e.token_type_ids], [ours.inputIds, ours.tokenTypeIds], `${tok.family}: ${a} | ${b}`);
    }
  }
});

test('base64 of a charsmap (browser-safe) agrees with Node Buffer across its chunk size', () => {
  const bytes = Uint8Array.from({ length: 70_001 }, (_, i) => (i * 7919) % 256);
  const text = toBase64(bytes);
  assert.equal(text, Buffer.from(bytes).toString('base64'));
  assert.deepEqual(fromBase64(text), bytes);
});

test('a refused directory is told what is wrong', async () => {
  const refused = async (files: Record<string, string | Uint8Array>, family: TokenizerFamily, message: RegExp) => {
    await assert.rejects(load(family, files), (e: unknown) => e instanceof TokenizerError && message.test(e.message));
  };
  await refused(
    { 'config.json': '{}' },
    'roberta',
    /no tokenizer file: expected tokenizer\.json, vocab\.json \+ merges\.txt, a SentencePiece \*\.model/,
  );
  await refused({ 'merges.txt': BPE_MERGES }, 'roberta', /merges\.txt: merges\.txt is there but vocab\.json is not/);
  await refused({ 'vocab.json': JSON.stringify(BPE_VOCAB) }, 'roberta', /vocab\.json is there but merges\.txt is not/);
  await refused(
    { 'tokenizer.json': JSON.stringify({ model: { type: 'WordLevel', vocab: {} } }) },
    'modernbert',
    /tokenizer\.json: model type "WordLevel" is not one of WordPiece, BPE, Unigram/,
  );
  await refused({ 'spm.model': 'this is a text file, not a protobuf\n' }, 'deberta-v2', /spm\.model: not a SentencePiece ModelProto/);
  await refused({ 'spm.model': modelProto(XLMR_PIECES, { modelType: 3 }) }, 'deberta-v2', /SentencePiece model type 3 is not supported/);
  await refused(
    { 'vocab.txt': WORDPIECE_VOCAB.join('\n') },
    'xlm-roberta',
    /vocab\.txt is a WordPiece vocabulary; a xlm-roberta tokenizer is not WordPiece/,
  );
  await refused(
    { 'merges.txt': 'h e x\n', 'vocab.json': JSON.stringify(BPE_VOCAB) },
    'roberta',
    /merges\.txt: line 1 is not a merge "left right"/,
  );
  // The family's special tokens must be in the vocabulary.
  const { '<s>': _, ...noCls } = BPE_VOCAB;
  await refused(
    { 'vocab.json': JSON.stringify(noCls), 'merges.txt': BPE_MERGES },
    'roberta',
    /vocab\.json: the vocabulary has no classifier token "<s>"/,
  );
  await refused(
    { 'a.model': modelProto(XLMR_PIECES), 'b.model': modelProto(XLMR_PIECES) },
    'xlm-roberta',
    /more than one SentencePiece \*\.model \(a\.model, b\.model\)/,
  );
});

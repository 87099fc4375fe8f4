/**
 * The tokenizer.json a loaded tokenizer writes (what `trainer export` ships): loaded by Hugging Face's
 * tokenizers.js (@huggingface/tokenizers, an implementation independent of this project's wrapper), it
 * gives the project tokenizer's ids and token types on varied texts and pairs, uncased and cased; and it
 * states the truncation and padding the Rust library applies from the file.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Tokenizer } from '@huggingface/tokenizers';
import { type BertTokenizer, loadBertTokenizer } from '../../../trainer/tokenizer/bert-tokenizer.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const vocabPath = join(root, 'assets/bert-base-uncased/vocab.txt');
const work = mkdtempSync(join(tmpdir(), 'tokenizer-json-'));

async function tokenizerIn(name: string, files: Record<string, string>, maxSeqLen = 512): Promise<BertTokenizer> {
  const dir = join(work, name);
  mkdirSync(dir);
  copyFileSync(vocabPath, join(dir, 'vocab.txt'));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
  return loadBertTokenizer(dir, { maxSeqLen });
}

/** Texts that exercise each stage: cleaning, accents, case, CJK, punctuation, unknown and over-long words, digits. */
const TEXTS = [
  'Hello, world!',
  "The movie wasn't GOOD at all... 10/10 would NOT watch again.",
  'Café déjà vu: naïve façade, Ångström, São Paulo, Zürich.',
  'unaffable unbelievably hyperparameterisation',
  '中文字符和English混合 テスト 한국어',
  'tabs\tand\nnewlines\r\n  and   spaces',
  'control\u0000chars\u200band zero\ufeffwidth',
  'emoji 😀 and symbols © ® ™ € £ ¥ § ¶',
  `a very long word: ${'x'.repeat(120)} then short`,
  'numbers 3.14159 1,000,000 2026-12-07 #hashtag @user e-mail@example.com',
  'ALL CAPS SENTENCE WITH MIXED case And Title Case',
  "quotes “curly” ‘single’ «guillemets» and dashes – — and 'plain'",
  '',
];

const PAIRS: [string, string][] = [
  ['A man is playing a guitar.', 'Someone plays an instrument.'],
  ['Café au lait?', 'No — un thé, s’il vous plaît.'],
  ['短い', 'a somewhat longer second sentence of the pair'],
  ['', 'only the second side'],
];

function viaTokenizersJs(json: Record<string, unknown>): (text: string, pair?: string) => { ids: number[]; types: number[] } {
  const t = new Tokenizer(json, {});
  return (text, pair) => {
    const e = t.encode(text, { text_pair: pair ?? null, return_token_type_ids: true });
    return { ids: e.ids, types: e.token_type_ids };
  };
}

function assertSameIds(ours: BertTokenizer, theirs: ReturnType<typeof viaTokenizersJs>): void {
  for (const text of TEXTS) {
    const e = ours.encode(text);
    assert.deepEqual(theirs(text), { ids: e.inputIds, types: e.tokenTypeIds }, JSON.stringify(text));
  }
  for (const [a, b] of PAIRS) {
    const e = ours.encode(a, b);
    assert.deepEqual(theirs(a, b), { ids: e.inputIds, types: e.tokenTypeIds }, JSON.stringify([a, b]));
  }
}

test('uncased: tokenizers.js loading the written tokenizer.json gives the project tokenizer ids, pairs included', async () => {
  const ours = await tokenizerIn('uncased', {});
  const json = ours.toTokenizerJson();
  assertSameIds(ours, viaTokenizersJs(json));
  // The comparison can fail: the ids are not trivially equal (lower-casing and accent stripping happened).
  assert.notDeepEqual(ours.encode('Café').inputIds, ours.encode('Cafx').inputIds);
  assert.deepEqual(ours.encode('Café').inputIds, ours.encode('cafe').inputIds);
});

test('cased (do_lower_case false): the normalizer written says so, and tokenizers.js agrees', async () => {
  const ours = await tokenizerIn('cased', { 'tokenizer_config.json': JSON.stringify({ do_lower_case: false }) });
  const json = ours.toTokenizerJson();
  assert.deepEqual(json.normalizer, {
    type: 'BertNormalizer',
    clean_text: true,
    handle_chinese_chars: true,
    strip_accents: false,
    lowercase: false,
  });
  assertSameIds(ours, viaTokenizersJs(json));
  // With the uncased settings tokenizers.js would give other ids: the normalizer in the file is what counts.
  const uncased = viaTokenizersJs({ ...json, normalizer: { ...(json.normalizer as object), lowercase: true, strip_accents: null } });
  const e = ours.encode('Hello World');
  assert.notDeepEqual(uncased('Hello World').ids, e.inputIds);
});

test('truncation and padding are stated as the Rust library reads them; the template has the real ids', async () => {
  const ours = await tokenizerIn('short', {}, 64);
  const json = ours.toTokenizerJson();
  assert.deepEqual(json.truncation, { direction: 'Right', max_length: 64, strategy: 'LongestFirst', stride: 0 });
  assert.deepEqual(json.padding, {
    strategy: 'BatchLongest',
    direction: 'Right',
    pad_to_multiple_of: null,
    pad_id: 0,
    pad_type_id: 0,
    pad_token: '[PAD]',
  });
  const post = json.post_processor as { special_tokens: Record<string, { ids: number[] }> };
  assert.deepEqual(post.special_tokens['[CLS]'].ids, [101]);
  assert.deepEqual(post.special_tokens['[SEP]'].ids, [102]);
  assert.equal((json.model as { type: string }).type, 'WordPiece');
  // A tokenizer loaded from the written file is the same tokenizer.
  const dir = join(work, 'reloaded');
  mkdirSync(dir);
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  const reloaded = await loadBertTokenizer(dir, { maxSeqLen: 64 });
  for (const text of TEXTS) assert.deepEqual(reloaded.encode(text), ours.encode(text));
  for (const [a, b] of PAIRS) assert.deepEqual(reloaded.encode(a, b), ours.encode(a, b));
});

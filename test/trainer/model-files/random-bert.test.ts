import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readBertConfig } from '../../../trainer/model-files/bert-config.ts';
import type { RandomBertOptions } from '../../../trainer/model-files/random-bert.ts';
import { syntheticVocab, writeRandomBert } from '../../../trainer/model-files/random-bert.ts';
import { readSafetensors } from '../../../trainer/model-files/safetensors.ts';
import { BERT_VOCAB_FILE } from '../../support/text-rows.ts';

const root = mkdtempSync(join(tmpdir(), 'random-bert-test-'));
after(() => rmSync(root, { recursive: true, force: true }));
const REAL_VOCAB = BERT_VOCAB_FILE;

const tiny: RandomBertOptions = {
  hiddenSize: 16,
  numLayers: 2,
  numHeads: 2,
  intermediateSize: 32,
  maxPositions: 24,
  vocabSize: 50,
  seed: 1,
};

test('same seed -> byte-identical files; another seed -> different weights', () => {
  writeRandomBert(join(root, 'a'), tiny);
  writeRandomBert(join(root, 'b'), tiny);
  writeRandomBert(join(root, 'c'), { ...tiny, seed: 2 });
  const bytes = (d: string) => readFileSync(join(root, d, 'model.safetensors'));
  assert.ok(bytes('a').equals(bytes('b')));
  assert.ok(!bytes('a').equals(bytes('c')));
});

test('config.json is a full Hugging Face BertModel config', () => {
  const dir = join(root, 'cfg');
  writeRandomBert(dir, { ...tiny, dtype: 'BF16' });
  const json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  assert.deepEqual(json.architectures, ['BertModel']);
  assert.equal(json.model_type, 'bert');
  assert.equal(json.torch_dtype, 'bfloat16');
  assert.deepEqual(readBertConfig(dir), {
    vocab_size: 50,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 32,
    hidden_act: 'gelu',
    max_position_embeddings: 24,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    initializer_range: 0.02,
    model_type: 'bert',
  });
  const f = readSafetensors(join(dir, 'model.safetensors'));
  assert.deepEqual(f.metadata, { format: 'pt' });
  assert.ok([...f.tensors.values()].every((t) => t.dtype === 'BF16'));
});

test('synthetic vocab: BERT layout, specials at 100..103 when large enough', () => {
  const v = syntheticVocab(1000);
  assert.equal(v.length, 1000);
  assert.equal(new Set(v).size, 1000);
  assert.equal(v[0], '[PAD]');
  assert.deepEqual(v.slice(100, 104), ['[UNK]', '[CLS]', '[SEP]', '[MASK]']);
  assert.ok(v.includes('a') && v.includes('##z'));
  const small = syntheticVocab(6);
  assert.deepEqual(small, ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'a']);
  assert.throws(() => syntheticVocab(4), /vocabSize must be an integer >= 5/);

  const dir = join(root, 'voc');
  writeRandomBert(dir, tiny);
  assert.deepEqual(readFileSync(join(dir, 'vocab.txt'), 'utf8').split('\n').slice(0, -1), syntheticVocab(50));
});

test('a vocab file is copied and sets vocab_size', () => {
  const file = join(root, 'v.txt');
  writeFileSync(file, '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n');
  const dir = join(root, 'vf');
  writeRandomBert(dir, { ...tiny, vocabSize: undefined, vocabFile: file });
  assert.equal(readFileSync(join(dir, 'vocab.txt'), 'utf8'), readFileSync(file, 'utf8'));
  assert.equal(readBertConfig(dir).vocab_size, 7);
  assert.equal(readSafetensors(join(dir, 'model.safetensors')).tensors.get('embeddings.word_embeddings.weight')!.shape[0], 7);
  assert.throws(() => writeRandomBert(join(root, 'vf2'), { ...tiny, vocabSize: 8, vocabFile: file }), /has 7 lines but vocabSize is 8/);
});

test('a read-only vocab file without a final newline: counted right, and the directory can be rewritten', () => {
  const file = join(root, 'ro.txt');
  writeFileSync(file, '[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nlast');
  chmodSync(file, 0o444);
  const dir = join(root, 'ro');
  writeRandomBert(dir, { ...tiny, vocabSize: undefined, vocabFile: file });
  writeRandomBert(dir, { ...tiny, vocabSize: undefined, vocabFile: file, seed: 9 });
  assert.equal(readBertConfig(dir).vocab_size, 6);
});

test('the real bert-base-uncased vocab (assets/) gives vocab_size 30522', () => {
  const dir = join(root, 'real');
  writeRandomBert(dir, { ...tiny, vocabSize: undefined, vocabFile: REAL_VOCAB, numLayers: 1 });
  assert.equal(readBertConfig(dir).vocab_size, 30522);
});

test('bad sizes are refused before anything is written', () => {
  const dir = join(root, 'bad');
  assert.throws(
    () => writeRandomBert(dir, { ...tiny, hiddenSize: 15 }),
    /"hidden_size" \(15\) must be divisible by "num_attention_heads" \(2\)/,
  );
  assert.ok(!existsSync(dir));
});

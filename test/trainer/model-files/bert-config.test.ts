import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { readBertConfig } from '../../../trainer/model-files/bert-config.ts';
import { ModelFileError } from '../../../trainer/model-files/errors.ts';

const root = mkdtempSync(join(tmpdir(), 'bert-config-test-'));
after(() => rmSync(root, { recursive: true, force: true }));

// bert-base-uncased's config.json, as published.
const BASE = {
  architectures: ['BertForMaskedLM'],
  attention_probs_dropout_prob: 0.1,
  gradient_checkpointing: false,
  hidden_act: 'gelu',
  hidden_dropout_prob: 0.1,
  hidden_size: 768,
  initializer_range: 0.02,
  intermediate_size: 3072,
  layer_norm_eps: 1e-12,
  max_position_embeddings: 512,
  model_type: 'bert',
  num_attention_heads: 12,
  num_hidden_layers: 12,
  pad_token_id: 0,
  position_embedding_type: 'absolute',
  transformers_version: '4.6.0.dev0',
  type_vocab_size: 2,
  use_cache: true,
  vocab_size: 30522,
};

let n = 0;
function dirWith(content: string | object): string {
  const dir = join(root, `c${n++}`);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), typeof content === 'string' ? content : JSON.stringify(content));
  return dir;
}

const rejects = (dir: string, message: RegExp) =>
  assert.throws(
    () => readBertConfig(dir),
    (e: unknown) => (e instanceof ModelFileError && message.test(e.message) ? true : assert.fail(String(e))),
  );

test('reads bert-base-uncased config.json', () => {
  assert.deepEqual(readBertConfig(dirWith(BASE)), {
    vocab_size: 30522,
    hidden_size: 768,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    intermediate_size: 3072,
    hidden_act: 'gelu',
    max_position_embeddings: 512,
    type_vocab_size: 2,
    layer_norm_eps: 1e-12,
    initializer_range: 0.02,
    model_type: 'bert',
  });
});

test('optional fields get their Hugging Face defaults; id2label is kept', () => {
  const { layer_norm_eps: _a, type_vocab_size: _b, initializer_range: _c, model_type: _d, ...rest } = BASE;
  const c = readBertConfig(dirWith({ ...rest, id2label: { 0: 'neg', 1: 'pos' } }));
  assert.equal(c.layer_norm_eps, 1e-12);
  assert.equal(c.type_vocab_size, 2);
  assert.equal(c.initializer_range, 0.02);
  assert.equal(c.model_type, undefined);
  assert.deepEqual(c.id2label, { 0: 'neg', 1: 'pos' });
});

test('missing or garbled config.json', () => {
  const empty = join(root, 'empty');
  mkdirSync(empty);
  rejects(empty, /empty\/config\.json: file not found/);
  rejects(dirWith('{"hidden_size": 12,'), /config\.json: not valid JSON \(/);
  rejects(dirWith('[1, 2]'), /config\.json: must be a JSON object/);
});

test('every bad field is named with its value', () => {
  rejects(dirWith({ ...BASE, hidden_size: 'abc' }), /config\.json: field "hidden_size" must be a positive integer, got "abc"/);
  rejects(dirWith({ ...BASE, num_hidden_layers: 0 }), /field "num_hidden_layers" must be a positive integer, got 0/);
  rejects(dirWith({ ...BASE, vocab_size: 3.5 }), /field "vocab_size" must be a positive integer, got 3\.5/);
  const { intermediate_size: _, ...noInter } = BASE;
  rejects(dirWith(noInter), /field "intermediate_size" must be a positive integer, got nothing \(field absent\)/);
  rejects(dirWith({ ...BASE, hidden_size: 100 }), /field "hidden_size" \(100\) must be divisible by "num_attention_heads" \(12\)/);
  rejects(dirWith({ ...BASE, hidden_act: 'gelu_new' }), /field "hidden_act" must be "gelu".*got "gelu_new"/);
  rejects(dirWith({ ...BASE, layer_norm_eps: -1 }), /field "layer_norm_eps" must be a positive number, got -1/);
  rejects(dirWith({ ...BASE, type_vocab_size: '2' }), /field "type_vocab_size" must be a positive integer, got "2"/);
  rejects(
    dirWith({ ...BASE, model_type: 'gpt2' }),
    /field "model_type" must be one of "bert", "roberta", "xlm-roberta", "electra", "distilbert", got "gpt2"/,
  );
  rejects(dirWith({ ...BASE, position_embedding_type: 'relative_key' }), /field "position_embedding_type" must be "absolute"/);
  rejects(dirWith({ ...BASE, is_decoder: true }), /field "is_decoder" must be false/);
  rejects(dirWith({ ...BASE, id2label: ['a'] }), /field "id2label" must be an object of label strings/);
});

/** Family lookup by model_type, and the config errors a base of an unbuilt or malformed family gets. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requirePath, UnsupportedFamilyPathError } from '../../../../trainer/model/families/family.ts';
import { familyOf, findFamily, SUPPORTED_MODEL_TYPES } from '../../../../trainer/model/families/registry.ts';
import { parseBertConfig } from '../../../../trainer/model-files/bert-config.ts';
import { ModelFileError } from '../../../../trainer/model-files/errors.ts';

const BASE = {
  vocab_size: 50,
  hidden_size: 8,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 12,
  hidden_act: 'gelu',
  max_position_embeddings: 20,
  type_vocab_size: 1,
};

test('families are found by model_type; an absent model_type is BERT', () => {
  assert.deepEqual([...SUPPORTED_MODEL_TYPES].sort(), ['bert', 'distilbert', 'electra', 'roberta', 'xlm-roberta']);
  assert.equal(findFamily('roberta')?.prefix, 'roberta');
  assert.equal(findFamily('gpt2'), undefined);
  assert.equal(familyOf({}).modelType, 'bert');
  assert.equal(familyOf(parseBertConfig({ ...BASE, model_type: 'roberta' })).modelType, 'roberta');
});

test('XLM-R is RoBERTa under its own model_type: same prefix, position rule and head', () => {
  const xlmr = familyOf(parseBertConfig({ ...BASE, model_type: 'xlm-roberta' }));
  const roberta = familyOf({ model_type: 'roberta' });
  assert.equal(xlmr.modelType, 'xlm-roberta');
  assert.equal(xlmr.prefix, 'roberta');
  assert.equal(xlmr.positionIds, roberta.positionIds);
  assert.deepEqual(
    xlmr.head.params(8, 3).map((p) => p.name),
    ['classifier.dense.weight', 'classifier.dense.bias', 'classifier.out_proj.weight', 'classifier.out_proj.bias'],
  );
});

test('an unknown model_type is refused, listing the supported ones', () => {
  assert.throws(
    () => parseBertConfig({ ...BASE, model_type: 'deberta-v2' }, 'x/config.json'),
    (e: Error) =>
      e instanceof ModelFileError &&
      e.message ===
        'x/config.json: field "model_type" must be one of "bert", "roberta", "xlm-roberta", "electra", "distilbert", got "deberta-v2"',
  );
  assert.throws(
    () => parseBertConfig({ ...BASE, model_type: 3 }),
    /field "model_type" must be one of "bert", "roberta", "xlm-roberta", "electra", "distilbert", got 3/,
  );
  assert.throws(
    () => familyOf({ model_type: 'deberta-v2' }),
    /model_type "deberta-v2" is not one of "bert", "roberta", "xlm-roberta", "electra", "distilbert"/,
  );
});

test('RoBERTa config: pad_token_id defaults to 1 and must leave room in the position table', () => {
  assert.equal(parseBertConfig({ ...BASE, model_type: 'roberta' }).pad_token_id, 1);
  assert.equal(parseBertConfig({ ...BASE, model_type: 'roberta', pad_token_id: 3 }).pad_token_id, 3);
  assert.throws(
    () => parseBertConfig({ ...BASE, model_type: 'roberta', pad_token_id: 50 }),
    /field "pad_token_id" must be an integer token id in \[0, 50\).*got 50/,
  );
  assert.throws(
    () => parseBertConfig({ ...BASE, model_type: 'roberta', pad_token_id: 19 }),
    /field "max_position_embeddings" must be greater than pad_token_id \+ 1 \(20\).*got 20/,
  );
  // BERT keeps no pad_token_id: its positions do not depend on it.
  assert.equal(parseBertConfig({ ...BASE, model_type: 'bert', pad_token_id: 0 }).pad_token_id, undefined);
});

test('the longest sequence: all positions for BERT, minus the pad offset for RoBERTa', () => {
  const roberta = parseBertConfig({ ...BASE, model_type: 'roberta', max_position_embeddings: 514 });
  assert.equal(familyOf(roberta).maxSequenceLength(roberta), 512);
  const bert = parseBertConfig({ ...BASE, max_position_embeddings: 512 });
  assert.equal(familyOf(bert).maxSequenceLength(bert), 512);
});

test('a path not built for a family is refused by name', () => {
  const roberta = familyOf({ model_type: 'roberta' });
  assert.throws(
    () => requirePath(roberta, 'pretrain'),
    (e: Error) =>
      e instanceof UnsupportedFamilyPathError &&
      e instanceof ModelFileError &&
      e.message ===
        'pretrain is not yet supported for roberta (supported for it: train, eval, predict, serving, export onnx, export --format adapterhub)',
  );
  requirePath(familyOf({ model_type: 'bert' }), 'serving'); // BERT has every path
});

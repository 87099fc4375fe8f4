/**
 * The masked-LM session's inputs: the batch and the trained parameters only. Every weight the graph reads
 * is trained, so the frozen-weights-as-initializers variant of the fine-tuning sessions has nothing to bake here.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BertConfig } from '../../../shared/bert-config.ts';
import { MASKED_POSITIONS, MASKED_TARGETS } from '../../../trainer/pretrain/graph.ts';
import { mlmParams } from '../../../trainer/pretrain/params.ts';
import { MlmSession } from '../../../trainer/pretrain/session.ts';

const config: BertConfig = {
  vocab_size: 20,
  hidden_size: 8,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  intermediate_size: 12,
  hidden_act: 'gelu',
  max_position_embeddings: 8,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
};

test('the masked-LM session takes the batch and the trained parameters, and no frozen weight', async () => {
  const params = mlmParams(config);
  const values = new Map(params.map((p) => [p.name, new Float32Array(p.shape.reduce((a, b) => a * b, 1)).fill(0.1)]));
  const session = await MlmSession.create(config, values, { threads: 1 });
  try {
    const trained = params.filter((p) => p.trained).map((p) => p.name);
    const untrained = params.filter((p) => !p.trained).map((p) => p.name);
    assert.deepEqual(untrained, ['bert.pooler.dense.weight', 'bert.pooler.dense.bias']);
    assert.deepEqual(session.inputNames, ['input_ids', 'token_type_ids', 'attention_mask', MASKED_POSITIONS, MASKED_TARGETS, ...trained]);
    assert.deepEqual(
      session.params.map((p) => p.name),
      trained,
    );
  } finally {
    await session.release();
  }
});

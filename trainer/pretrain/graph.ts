/**
 * The masked-LM training step as one graph: the BERT encoder (shared with the classifier graph), the
 * hidden states of the masked positions only gathered (sparse prediction: the vocabulary projection,
 * the costliest matrix product, runs on ~15 % of the tokens), Hugging Face's prediction head
 * (dense -> GELU -> LayerNorm -> decoder tied to the word embeddings + bias), the mean cross-entropy
 * over the masked tokens, the arg-max prediction at each, and the gradient of every parameter.
 */
import type { BertConfig } from '../../shared/bert-config.ts';
import { gradients } from '../autodiff/gradients.ts';
import { attr, Graph, type Tensor } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { ATTENTION_MASK, bertEncoder, gradName, INPUT_IDS, TOKEN_TYPE_IDS } from '../model/bert.ts';
import { HEAD_PREFIX, type MlmParam, mlmParams, WORD_EMBEDDINGS } from './params.ts';

/** int64 [M]: the masked positions as flat indices b·S + s into the [B·S] tokens. */
export const MASKED_POSITIONS = 'masked_positions';
/** int64 [M]: the original token of masked position m as a flat index m·V + token into the [M, V] log-probabilities. */
export const MASKED_TARGETS = 'masked_targets';
export const PREDICTIONS = 'predictions';

export interface MlmGraphOptions {
  floatType?: 'float32' | 'float64';
  /** See GraphOptions.kernels in model/bert.ts (`basic` for float64 checks). */
  kernels?: 'fused' | 'basic';
}

export interface MlmGraph {
  graph: Graph;
  /** The parameters the graph reads (the pooler is not among them). */
  params: MlmParam[];
  loss: Tensor;
  predictions: Tensor;
  grads: Map<string, Tensor>;
}

export function buildMlmGraph(c: BertConfig, opts: MlmGraphOptions = {}): MlmGraph {
  const g = new Graph(opts.floatType ?? 'float32');
  const inputIds = g.input(INPUT_IDS, 'int64', ['B', 'S']);
  const tokenTypeIds = g.input(TOKEN_TYPE_IDS, 'int64', ['B', 'S']);
  const attentionMask = g.input(ATTENTION_MASK, g.floatType, ['B', 'S']);
  const positions = g.input(MASKED_POSITIONS, 'int64', ['M']);
  const targets = g.input(MASKED_TARGETS, 'int64', ['M']);
  const params = mlmParams(c).filter((p) => p.trained);
  const inputs = new Map(params.map((p) => [p.name, g.input(p.name, g.floatType, p.shape)]));
  const P = (name: string): Tensor => {
    const t = inputs.get(name);
    if (!t) throw new Error(`masked LM: no parameter ${name}`);
    return t;
  };

  // No dropout: pretraining on a small budget underfits, and dropout only slows it (Cramming, §4.3).
  const { hidden, layers } = bertEncoder(
    g,
    c,
    P,
    { inputIds, tokenTypeIds, attentionMask },
    { basic: opts.kernels === 'basic', drop: (x) => x },
  );
  const picked = op.gather(hidden, positions); // [M, d]
  const t = layers.layerNorm(layers.gelu(layers.linear(picked, `${HEAD_PREFIX}.transform.dense`)), `${HEAD_PREFIX}.transform.LayerNorm`);
  const logits = op.gemm(t, P(WORD_EMBEDDINGS), P(`${HEAD_PREFIX}.bias`), { transB: true }); // [M, V]
  // The target's log-probability picked from the flattened [M·V]: no [M, V] one-hot is ever built.
  g.defineDim('MV', g.int64s([-1]));
  const logProbs = op.reshape(op.logSoftmax(logits, -1), ['MV']);
  const loss = op.neg(op.reduceMean(op.gather(logProbs, targets), [0], false));
  const [argmax] = g.node('ArgMax', [logits], [{ dtype: 'int64', shape: ['M'] }], { axis: attr.int(1), keepdims: attr.int(0) });

  const result: MlmGraph = { graph: g, params, loss: g.output(loss, 'loss'), predictions: g.output(argmax, PREDICTIONS), grads: new Map() };
  const grads = gradients(
    loss,
    params.map((p) => P(p.name)),
  );
  for (const p of params) result.grads.set(p.name, g.output(grads.get(P(p.name))!, gradName(p.name)));
  return result;
}

/**
 * DistilBERT (`model_type` "distilbert"): post-LayerNorm layers under `distilbert.transformer.layer.N` with its own
 * names (attention.{q,k,v,out}_lin, sa_layer_norm, ffn.lin1/lin2, output_layer_norm), word + position embeddings
 * and their LayerNorm (no token types; a sinusoidal position table is read from the checkpoint), no dropout after out_lin, LayerNorm eps fixed at 1e-12, config fields
 * `dim`, `hidden_dim`, `n_layers`, `n_heads`, `activation`. Houlsby adapters sit where AdapterHub puts them
 * (`attention_adapters` before sa_layer_norm's residual, `output_adapters` before output_layer_norm's). The head is
 * DistilBertForSequenceClassification's: pre_classifier, ReLU, dropout, classifier on [CLS].
 */
import type { BertConfig } from '../../../shared/bert-config.ts';
import * as op from '../../graph/ops.ts';
import type { EncoderLayout, ModelFamily } from './family.ts';
import { absolutePositions } from './shared-parts.ts';

/** DistilBERT's LayerNorms are built with eps 1e-12 whatever config.json says. */
const LAYER_NORM_EPS = 1e-12;

export function distilbertLayout(config: BertConfig): EncoderLayout {
  return {
    word: 'embeddings.word_embeddings',
    position: 'embeddings.position_embeddings',
    tokenType: null,
    embeddingNorm: 'embeddings.LayerNorm',
    embeddingSize: config.hidden_size,
    embeddingProject: null,
    attentionOutputDropout: false,
    layer: (l) => {
      const p = `transformer.layer.${l}`;
      return {
        query: `${p}.attention.q_lin`,
        key: `${p}.attention.k_lin`,
        value: `${p}.attention.v_lin`,
        attentionOutput: `${p}.attention.out_lin`,
        attentionNorm: `${p}.sa_layer_norm`,
        intermediate: `${p}.ffn.lin1`,
        output: `${p}.ffn.lin2`,
        outputNorm: `${p}.output_layer_norm`,
      };
    },
    adapterBlock: (l, site) => `transformer.layer.${l}.${site === 'attention' ? 'attention_adapters' : 'output_adapters'}`,
    layerOf: (name) => {
      const m = /^transformer\.layer\.(\d+)\./.exec(name);
      return m ? Number(m[1]) : -1;
    },
    isLayerNorm: (name) => /(LayerNorm|_layer_norm)\.(weight|bias)$/.test(name),
  };
}

/** The names map: unprefixed names and shapes in DistilBertModel's parameter order. */
export function distilbertWeights(config: BertConfig): Map<string, number[]> {
  const layout = distilbertLayout(config);
  const d = config.hidden_size;
  const m = new Map<string, number[]>();
  const linear = (name: string, out: number, inp: number) => {
    m.set(`${name}.weight`, [out, inp]);
    m.set(`${name}.bias`, [out]);
  };
  const layerNorm = (name: string) => {
    m.set(`${name}.weight`, [d]);
    m.set(`${name}.bias`, [d]);
  };
  m.set(`${layout.word}.weight`, [config.vocab_size, d]);
  m.set(`${layout.position}.weight`, [config.max_position_embeddings, d]);
  layerNorm(layout.embeddingNorm);
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const n = layout.layer(l);
    for (const name of [n.query, n.key, n.value, n.attentionOutput]) linear(name, d, d);
    layerNorm(n.attentionNorm);
    linear(n.intermediate, config.intermediate_size, d);
    linear(n.output, d, config.intermediate_size);
    layerNorm(n.outputNorm);
  }
  return m;
}

export const distilbertFamily: ModelFamily = {
  modelType: 'distilbert',
  prefix: 'distilbert',
  configFields: {
    hidden_size: 'dim',
    intermediate_size: 'hidden_dim',
    num_hidden_layers: 'n_layers',
    num_attention_heads: 'n_heads',
    hidden_act: 'activation',
  },
  parseExtras: (raw, config, bad) => {
    // A sinusoidal table is saved in the checkpoint like a learned one and read from it. HF freezes it only in a
    // freshly built model: from_pretrained loads it with requires_grad True, so full fine-tuning trains it there and here.
    if (raw.sinusoidal_pos_embds !== undefined && typeof raw.sinusoidal_pos_embds !== 'boolean') {
      bad('sinusoidal_pos_embds', 'true or false');
    }
    config.layer_norm_eps = LAYER_NORM_EPS;
    // No token-type table: type_vocab_size keeps its default 2 so a BERT tokenizer's pair types (0/1) pass the row
    // checks; the graph's token_type_ids input is read by nothing.
  },
  baseWeights: distilbertWeights,
  layout: distilbertLayout,
  positionIds: absolutePositions,
  maxSequenceLength: (c) => c.max_position_embeddings,
  head: {
    usesPooler: () => false,
    params: (d, labels) => [
      { name: 'pre_classifier.weight', shape: [d, d], role: 'classifier-weight' },
      { name: 'pre_classifier.bias', shape: [d], role: 'classifier-bias' },
      { name: 'classifier.weight', shape: [labels, d], role: 'classifier-weight' },
      { name: 'classifier.bias', shape: [labels], role: 'classifier-bias' },
    ],
    build: (first, { linear, drop }) => linear(drop(op.relu(linear(first, 'pre_classifier'))), 'classifier'),
  },
  paths: new Set(['train', 'eval', 'predict']),
};

/**
 * The post-LayerNorm encoder layout BERT introduced and RoBERTa, XLM-R and ELECTRA keep: word, position and
 * token-type embeddings + LayerNorm, then per layer self-attention (query/key/value), output dense + LayerNorm,
 * intermediate + output dense + LayerNorm. These are the weight names `save_pretrained` writes below the prefix.
 */
import type { BertConfig } from '../../../shared/bert-config.ts';
import type { EncoderLayout } from './family.ts';

/** BERT's module names, which RoBERTa, XLM-R and ELECTRA share. */
export const postLayerNormLayout: Omit<EncoderLayout, 'embeddingSize'> = {
  word: 'embeddings.word_embeddings',
  position: 'embeddings.position_embeddings',
  tokenType: 'embeddings.token_type_embeddings',
  embeddingNorm: 'embeddings.LayerNorm',
  embeddingProject: null,
  attentionOutputDropout: true,
  layer: (l) => {
    const p = `encoder.layer.${l}`;
    return {
      query: `${p}.attention.self.query`,
      key: `${p}.attention.self.key`,
      value: `${p}.attention.self.value`,
      attentionOutput: `${p}.attention.output.dense`,
      attentionNorm: `${p}.attention.output.LayerNorm`,
      intermediate: `${p}.intermediate.dense`,
      output: `${p}.output.dense`,
      outputNorm: `${p}.output.LayerNorm`,
    };
  },
  adapterBlock: (l, site) => `encoder.layer.${l}.${site === 'attention' ? 'attention.output' : 'output'}`,
  layerOf: (name) => {
    const m = /^encoder\.layer\.(\d+)\./.exec(name);
    return m ? Number(m[1]) : -1;
  },
  isLayerNorm: (name) => name.includes('LayerNorm'),
};

/** The post-LayerNorm layout at hidden_size wide embeddings (BERT, RoBERTa, XLM-R). */
export const postLayerNormLayoutOf = (config: BertConfig): EncoderLayout => ({ ...postLayerNormLayout, embeddingSize: config.hidden_size });

export function postLayerNormWeights(config: BertConfig): Map<string, number[]> {
  const h = config.hidden_size;
  const inter = config.intermediate_size;
  const m = new Map<string, number[]>();
  const linear = (name: string, out: number, inp: number) => {
    m.set(`${name}.weight`, [out, inp]);
    m.set(`${name}.bias`, [out]);
  };
  const layerNorm = (name: string) => {
    m.set(`${name}.weight`, [h]);
    m.set(`${name}.bias`, [h]);
  };
  m.set('embeddings.word_embeddings.weight', [config.vocab_size, h]);
  m.set('embeddings.position_embeddings.weight', [config.max_position_embeddings, h]);
  m.set('embeddings.token_type_embeddings.weight', [config.type_vocab_size, h]);
  layerNorm('embeddings.LayerNorm');
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `encoder.layer.${i}`;
    linear(`${p}.attention.self.query`, h, h);
    linear(`${p}.attention.self.key`, h, h);
    linear(`${p}.attention.self.value`, h, h);
    linear(`${p}.attention.output.dense`, h, h);
    layerNorm(`${p}.attention.output.LayerNorm`);
    linear(`${p}.intermediate.dense`, inter, h);
    linear(`${p}.output.dense`, h, inter);
    layerNorm(`${p}.output.LayerNorm`);
  }
  return m;
}

/**
 * ELECTRA discriminator (`model_type` "electra"): BERT's post-LayerNorm layers under `electra.`, positions
 * 0..S-1, embeddings (and their LayerNorm) `embedding_size` wide followed, when that differs from hidden_size,
 * by `embeddings_project` (ElectraModel's linear to hidden_size); no pooler. The head is
 * ElectraClassificationHead: dropout, dense, GELU, dropout, out_proj on the first token.
 */
import type { BertConfig } from '../../../shared/bert-config.ts';
import type { ModelFamily } from './family.ts';
import { postLayerNormLayout, postLayerNormWeights } from './post-ln-layout.ts';
import { absolutePositions, denseOutProjHead } from './shared-parts.ts';

/** ElectraConfig's default when config.json has no embedding_size. */
export const ELECTRA_DEFAULT_EMBEDDING_SIZE = 128;
const PROJECT = 'embeddings_project';

const embeddingSize = (c: BertConfig): number => c.embedding_size ?? ELECTRA_DEFAULT_EMBEDDING_SIZE;

/** BERT's names map with embedding_size-wide embeddings, and embeddings_project between them and layer 0. */
export function electraWeights(config: BertConfig): Map<string, number[]> {
  const e = embeddingSize(config);
  const h = config.hidden_size;
  const m = new Map<string, number[]>();
  for (const [name, shape] of postLayerNormWeights(config)) {
    if (name.startsWith('embeddings.')) {
      m.set(name, shape.length === 2 ? [shape[0], e] : [e]);
      continue;
    }
    if (e !== h && !m.has(`${PROJECT}.weight`)) {
      m.set(`${PROJECT}.weight`, [h, e]);
      m.set(`${PROJECT}.bias`, [h]);
    }
    m.set(name, shape);
  }
  return m;
}

export const electraFamily: ModelFamily = {
  modelType: 'electra',
  prefix: 'electra',
  parseExtras: (raw, config, bad) => {
    const e = raw.embedding_size ?? ELECTRA_DEFAULT_EMBEDDING_SIZE;
    if (typeof e !== 'number' || !Number.isSafeInteger(e) || e <= 0) bad('embedding_size', 'a positive integer');
    config.embedding_size = e as number;
  },
  baseWeights: electraWeights,
  layout: (c) => ({
    ...postLayerNormLayout,
    embeddingSize: embeddingSize(c),
    embeddingProject: embeddingSize(c) === c.hidden_size ? null : PROJECT,
  }),
  positionIds: absolutePositions,
  maxSequenceLength: (c) => c.max_position_embeddings,
  head: denseOutProjHead((x, layers) => layers.gelu(x)),
  paths: new Set(['train', 'eval', 'predict']),
};

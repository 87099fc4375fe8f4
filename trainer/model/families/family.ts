/**
 * The seam between the product and an encoder architecture: a `ModelFamily` describes one Hugging Face
 * `model_type` (its config fields, weight names, embeddings' position-id rule, head, and which product paths
 * can already serve it). Config parsing, the base loader, parameter specs and graph building read the family;
 * adding an architecture is one module here, registered in registry.ts, plus its parity test.
 */
import type { BertConfig } from '../../../shared/bert-config.ts';
import type { Tensor } from '../../graph/graph.ts';
import { ModelFileError } from '../../model-files/errors.ts';

/** BERT-shaped config fields a family may name differently in its config.json. */
export type ConfigField = 'vocab_size' | 'hidden_size' | 'num_hidden_layers' | 'num_attention_heads' | 'intermediate_size' | 'hidden_act';

/** A product path that a family may not support yet; refused with a message naming it. */
export type ProductPath = 'train' | 'eval' | 'predict' | 'export onnx' | 'export --format adapterhub' | 'serving' | 'pretrain';

/** A tensor of the classification head: new (never read from the base), trained in every mode. */
export interface HeadParam {
  name: string;
  shape: number[];
  role: 'classifier-weight' | 'classifier-bias';
}

/** Layer builders the head is made of (the encoder's own, so kernels and dropout match). */
export interface HeadLayers {
  linear: (x: Tensor, prefix: string) => Tensor;
  drop: (x: Tensor) => Tensor;
  /** The encoder's GELU (erf, or tanh under the float64 `basic` kernels): ELECTRA's head uses it. */
  gelu: (x: Tensor) => Tensor;
}

/** Where a Houlsby adapter sits in a layer: after the attention block's output, or after the feed-forward's. */
export type AdapterSite = 'attention' | 'output';

/** One post-LayerNorm layer's module names (below the family prefix), in the order the graph uses them. */
export interface LayerNames {
  query: string;
  key: string;
  value: string;
  /** The attention block's output projection, then the LayerNorm over its residual. */
  attentionOutput: string;
  attentionNorm: string;
  /** The feed-forward's two linears, then the LayerNorm over its residual. */
  intermediate: string;
  output: string;
  outputNorm: string;
}

/** The module names the encoder builder reads (below the family prefix), for a parsed config. */
export interface EncoderLayout {
  word: string;
  position: string;
  /** null: the family has no token-type embeddings (DistilBERT); its token_type_ids input is then unused. */
  tokenType: string | null;
  embeddingNorm: string;
  /** The embeddings' width (ELECTRA's embedding_size; hidden_size elsewhere). */
  embeddingSize: number;
  /** The linear from embeddingSize to hidden_size after the embeddings (ELECTRA's embeddings_project), or null. */
  embeddingProject: string | null;
  /** Whether hidden dropout follows the attention output projection (BERT's does; DistilBERT's does not). */
  attentionOutputDropout: boolean;
  layer: (l: number) => LayerNames;
  /** The module that holds layer l's adapters at a site (`<block>.adapters.<task>`, AdapterHub's names). */
  adapterBlock: (l: number, site: AdapterSite) => string;
  /** The layer a base-weight name belongs to, or -1 (embeddings, pooler). */
  layerOf: (baseName: string) => number;
  /** Whether a base weight is a LayerNorm's (trained in adapter mode by default). */
  isLayerNorm: (baseName: string) => boolean;
}

/** The sequence-classification head on top of the encoder, as the family's `...ForSequenceClassification`. */
export interface ClassificationHead {
  /** Whether the head reads the base's pooler (`<prefix>.pooler.dense`), given whether the base has one. */
  usesPooler: (baseHasPooler: boolean) => boolean;
  params: (hiddenSize: number, numLabels: number) => HeadParam[];
  /** Logits [B, L] from the first token's hidden state [B, d]; `pooler` is the prefixed pooler name when used. */
  build: (first: Tensor, layers: HeadLayers, pooler: string | null) => Tensor;
}

/** The graph context a position-id rule builds in. */
export interface PositionContext {
  inputIds: Tensor;
  /** Runtime sequence length (int64 scalar). */
  seqLen: Tensor;
  config: BertConfig;
}

/** How AdapterHub's `adapters` library names this family, where it supports it. */
export interface AdapterHubNames {
  /** The library's flex-head model class (head_config.json's model_class): BertAdapterModel, RobertaAdapterModel. */
  modelClass: string;
  /**
   * The `add_classification_head` our head equals: its `layers` and `activation_function`, and the module index
   * in `heads.<task>.<index>` of each of our head linears (the library interleaves dropouts and activations).
   */
  head: { layers: number; activation: string | null; modules: Readonly<Record<string, number>> };
}

export interface ModelFamily {
  /** config.json's `model_type`. */
  modelType: string;
  /** The prefix `save_pretrained` writes for the `...For*` classes (`bert.`, `roberta.`), without the dot. */
  prefix: string;
  /**
   * config.json's names for the BERT-shaped fields where the family spells them otherwise (DistilBERT: `dim`,
   * `n_layers`, ...); absent: BERT's names.
   */
  configFields?: Partial<Record<ConfigField, string>>;
  /** Family-specific config fields and checks on top of the BERT-shaped ones; `bad(field, need)` throws. */
  parseExtras: (raw: Record<string, unknown>, config: BertConfig, bad: (field: string, need: string) => never) => void;
  /**
   * Unprefixed base-weight name -> shape, in checkpoint order: the names map (pooler not included).
   * The graph's parameters are `<prefix>.<name>`.
   */
  baseWeights: (config: BertConfig) => Map<string, number[]>;
  /** The module names the graph reads; consistent with baseWeights. */
  layout: (config: BertConfig) => EncoderLayout;
  /** Position ids, int64 [S] (broadcast over the batch) or [B, S]. */
  positionIds: (ctx: PositionContext) => Tensor;
  /** The longest token sequence the position table embeds (RoBERTa's start after the pad id). */
  maxSequenceLength: (config: BertConfig) => number;
  head: ClassificationHead;
  /** AdapterHub's names for the family; absent where the library has none (export --format adapterhub needs it). */
  adapterHub?: AdapterHubNames;
  /** Product paths built for this family; the others refuse it by name (requirePath). */
  paths: ReadonlySet<ProductPath>;
}

export class UnsupportedFamilyPathError extends ModelFileError {
  override name = 'UnsupportedFamilyPathError';
}

/** Throws a precise error when `path` is not yet built for the family. */
export function requirePath(family: ModelFamily, path: ProductPath): void {
  if (!family.paths.has(path)) {
    throw new UnsupportedFamilyPathError(
      `${path} is not yet supported for ${family.modelType} (supported for it: ${[...family.paths].join(', ') || 'none'})`,
    );
  }
}

/**
 * The seam between the product and an encoder architecture: a `ModelFamily` describes one Hugging Face
 * `model_type` (its config fields, weight names, embeddings' position-id rule, head, and which product paths
 * can already serve it). Config parsing, the base loader, parameter specs and graph building read the family;
 * adding an architecture is one module here, registered in registry.ts, plus its parity test.
 */
import type { BertConfig } from '../../../shared/bert-config.ts';
import type { Tensor } from '../../graph/graph.ts';
import { ModelFileError } from '../../model-files/errors.ts';

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
  /** Family-specific config fields and checks on top of the BERT-shaped ones; `bad(field, need)` throws. */
  parseExtras: (raw: Record<string, unknown>, config: BertConfig, bad: (field: string, need: string) => never) => void;
  /**
   * Unprefixed base-weight name -> shape, in checkpoint order: the names map (pooler not included).
   * The graph's parameters are `<prefix>.<name>`.
   */
  baseWeights: (config: BertConfig) => Map<string, number[]>;
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

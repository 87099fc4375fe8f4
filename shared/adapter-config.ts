import type { BertConfig } from './bert-config.ts';
import type { AdapterNonlinearity, TrainMode } from './vocabulary.ts';

// Their lists live in vocabulary.ts; re-exported because the model code reads them beside the config.
export type { AdapterNonlinearity, TrainMode } from './vocabulary.ts';

/** Shape and options of the bottleneck adapters (see docs/method.md). */
export interface HoulsbyAdapterOptions {
  /** Bottleneck width m (down-projection d -> m). */
  bottleneck: number;
  nonlinearity: AdapterNonlinearity;
  /** Std of the truncated normal used for the adapter weights at init (biases start at 0). */
  initStd: number;
  /** Indices of the encoder layers that carry the two adapters, ascending. */
  layers: number[];
  /**
   * Whether the LayerNorms train with the adapters (absent: true). False freezes them at the base's
   * values, which is what the Python `adapters` library's train_adapter does.
   */
  trainLayernorms?: boolean;
}

/** The Python `adapters` library's bottleneck config (its BnConfig fields, Houlsby / DoubleSeqBn values). */
export interface AdapterHubBnConfig {
  mh_adapter: true;
  output_adapter: true;
  /** The library builds `int(hidden_size // reduction_factor)` units. */
  reduction_factor: number;
  non_linearity: string;
  original_ln_before: false;
  original_ln_after: true;
  residual_before_ln: true;
  adapter_residual_before_ln: false;
  ln_before: false;
  ln_after: false;
  init_weights: 'houlsby';
  leave_out: number[];
}

/** The top-level fields the library's loader reads from adapter_config.json (it ignores the others). */
export interface AdapterHubFields {
  /** The adapter's name in the library: our task. */
  name: string;
  /** e.g. "adapters.1.2.0"; without it the loader reads "gelu" as the tanh approximation. */
  version: string;
  /** The family's model_type (bert, roberta, xlm-roberta). */
  model_type: string;
  model_name: string;
  /** The library's model class for the family (BertAdapterModel, RobertaAdapterModel, XLMRobertaAdapterModel). */
  model_class: string;
  hidden_size: number;
  config: AdapterHubBnConfig;
}

/**
 * `adapter_config.json`: everything needed to rebuild the network an `adapter.safetensors` belongs to.
 * The file is plain JSON; this interface is its schema. In adapter mode it also carries the Python
 * `adapters` library's fields (AdapterHubFields) at the top level, so that library loads the directory.
 */
export interface AdapterConfig extends Partial<AdapterHubFields> {
  format: 'adapter-store.adapter/v1';
  /** Task name; also the adapter name inside the parameter keys (`...adapters.<task>.adapter_up.weight`). */
  task: string;
  mode: TrainMode;
  /** Present in `adapter` mode, null in `full` and `head` modes. */
  adapter: HoulsbyAdapterOptions | null;
  /** Label names in class order: logits[i] scores labels[i]. */
  labels: string[];
  maxSeqLen: number;
  /** Dropout probability used while training (hidden states and attention probabilities). */
  dropout: number;
  base: {
    config: BertConfig;
    /** sha256 (hex) of the base model's model.safetensors file. */
    weightsSha256: string;
    /** Whether the frozen pooler (tanh(W h_CLS + b)) sits under the classifier. */
    usesPooler: boolean;
    name?: string;
  };
  parameters: { trainable: number; total: number };
  createdAt: string;
  /**
   * The same adapter described in the terms of the Python `adapters` library (DoubleSeqBnConfig / Houlsby),
   * for users who load the weights there. Null outside `adapter` mode.
   */
  pythonAdapters: {
    architecture: 'bottleneck';
    mh_adapter: true;
    output_adapter: true;
    reduction_factor: number;
    non_linearity: string;
    leave_out: number[];
  } | null;
}

/**
 * The parameters of BERT + Houlsby adapters + classifier under their exported (PyTorch) names, with
 * which of them a mode trains. Names follow Hugging Face BertForSequenceClassification (`bert.` prefix)
 * and, for adapters, the Python `adapters` library's DoubleSeqBn naming.
 */
import type { AdapterConfig, HoulsbyAdapterOptions, TrainMode } from '../../shared/adapter-config.ts';
import type { BertConfig } from '../../shared/bert-config.ts';

export interface ModelSpec {
  config: BertConfig;
  task: string;
  numLabels: number;
  mode: TrainMode;
  /** Required in `adapter` mode; ignored otherwise. */
  adapter: HoulsbyAdapterOptions | null;
  usesPooler: boolean;
}

export type ParamRole = 'base' | 'adapter-down-weight' | 'adapter-up-weight' | 'adapter-bias' | 'classifier-weight' | 'classifier-bias';

export interface ParamSpec {
  /** Exported name, e.g. `bert.encoder.layer.0.attention.self.query.weight`. */
  name: string;
  /** Name in the base checkpoint without the `bert.` prefix, for weights that come from it. */
  baseName: string | null;
  shape: number[];
  trainable: boolean;
  role: ParamRole;
}

export type AdapterSite = 'attention' | 'output';

export function adapterPrefix(layer: number, site: AdapterSite, task: string): string {
  const block = site === 'attention' ? 'attention.output' : 'output';
  return `bert.encoder.layer.${layer}.${block}.adapters.${task}`;
}

const isLayerNorm = (baseName: string) => baseName.includes('LayerNorm');

/** Every parameter the network reads, in a stable order, with its trainability under `spec.mode`. */
export function parameterSpecs(spec: ModelSpec): ParamSpec[] {
  const c = spec.config;
  const d = c.hidden_size;
  const out: ParamSpec[] = [];
  const base = (baseName: string, shape: number[]) => {
    const trainable = spec.mode === 'full' || (spec.mode === 'adapter' && spec.adapter?.trainLayernorms !== false && isLayerNorm(baseName));
    out.push({ name: `bert.${baseName}`, baseName, shape, trainable, role: 'base' });
  };
  base('embeddings.word_embeddings.weight', [c.vocab_size, d]);
  base('embeddings.position_embeddings.weight', [c.max_position_embeddings, d]);
  base('embeddings.token_type_embeddings.weight', [c.type_vocab_size, d]);
  base('embeddings.LayerNorm.weight', [d]);
  base('embeddings.LayerNorm.bias', [d]);
  const adapterLayers = new Set(spec.mode === 'adapter' ? (spec.adapter?.layers ?? []) : []);
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `encoder.layer.${l}`;
    for (const proj of ['query', 'key', 'value']) {
      base(`${p}.attention.self.${proj}.weight`, [d, d]);
      base(`${p}.attention.self.${proj}.bias`, [d]);
    }
    base(`${p}.attention.output.dense.weight`, [d, d]);
    base(`${p}.attention.output.dense.bias`, [d]);
    base(`${p}.attention.output.LayerNorm.weight`, [d]);
    base(`${p}.attention.output.LayerNorm.bias`, [d]);
    base(`${p}.intermediate.dense.weight`, [c.intermediate_size, d]);
    base(`${p}.intermediate.dense.bias`, [c.intermediate_size]);
    base(`${p}.output.dense.weight`, [d, c.intermediate_size]);
    base(`${p}.output.dense.bias`, [d]);
    base(`${p}.output.LayerNorm.weight`, [d]);
    base(`${p}.output.LayerNorm.bias`, [d]);
    if (adapterLayers.has(l) && spec.adapter) {
      const m = spec.adapter.bottleneck;
      for (const site of ['attention', 'output'] as const) {
        const a = adapterPrefix(l, site, spec.task);
        out.push({ name: `${a}.adapter_down.0.weight`, baseName: null, shape: [m, d], trainable: true, role: 'adapter-down-weight' });
        out.push({ name: `${a}.adapter_down.0.bias`, baseName: null, shape: [m], trainable: true, role: 'adapter-bias' });
        out.push({ name: `${a}.adapter_up.weight`, baseName: null, shape: [d, m], trainable: true, role: 'adapter-up-weight' });
        out.push({ name: `${a}.adapter_up.bias`, baseName: null, shape: [d], trainable: true, role: 'adapter-bias' });
      }
    }
  }
  if (spec.usesPooler) {
    base('pooler.dense.weight', [d, d]);
    base('pooler.dense.bias', [d]);
  }
  out.push({ name: 'classifier.weight', baseName: null, shape: [spec.numLabels, d], trainable: true, role: 'classifier-weight' });
  out.push({ name: 'classifier.bias', baseName: null, shape: [spec.numLabels], trainable: true, role: 'classifier-bias' });
  return out;
}

/** The model spec an adapter directory's config describes. */
export function specFromAdapterConfig(cfg: AdapterConfig): ModelSpec {
  return {
    config: cfg.base.config,
    task: cfg.task,
    numLabels: cfg.labels.length,
    mode: cfg.mode,
    adapter: cfg.adapter,
    usesPooler: cfg.base.usesPooler,
  };
}

/** Parses "0-11", "9,10,11" or "8-11,3" into sorted distinct layer indices within [0, numLayers). */
export function parseLayerSet(text: string, numLayers: number): number[] {
  const layers = new Set<number>();
  for (const part of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new Error(`--adapter-layers: "${part}" is not a layer index or range like 0-11`);
    const [lo, hi] = [Number(m[1]), Number(m[2] ?? m[1])];
    if (lo > hi || hi >= numLayers) throw new Error(`--adapter-layers: "${part}" is outside the model's layers 0-${numLayers - 1}`);
    for (let l = lo; l <= hi; l++) layers.add(l);
  }
  if (layers.size === 0) throw new Error('--adapter-layers: no layers given');
  return [...layers].sort((a, b) => a - b);
}

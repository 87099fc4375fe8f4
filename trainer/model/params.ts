/**
 * The parameters of BERT + Houlsby adapters + classifier under their exported (PyTorch) names, with
 * which of them a mode trains. Names follow Hugging Face BertForSequenceClassification (`bert.` prefix)
 * and, for adapters, the Python `adapters` library's DoubleSeqBn naming.
 */
import type { AdapterConfig, HoulsbyAdapterOptions, TrainMode } from '../../shared/adapter-config.ts';
import type { BertConfig } from '../../shared/bert-config.ts';
import type { AdapterSite, ModelFamily } from './families/family.ts';
import { postLayerNormLayout } from './families/post-ln-layout.ts';
import { familyOf } from './families/registry.ts';

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

export type { AdapterSite };

/** The Houlsby adapter's parameter prefix at a site of the post-LayerNorm layout; `modelPrefix` is the family's (`bert`, `roberta`). */
export function adapterPrefix(layer: number, site: AdapterSite, task: string, modelPrefix = 'bert'): string {
  return `${modelPrefix}.${postLayerNormLayout.adapterBlock(layer, site)}.adapters.${task}`;
}

/** The Houlsby adapter's parameter prefix at a site, where the family's layout places it. */
export function layoutAdapterPrefix(family: ModelFamily, config: BertConfig, layer: number, site: AdapterSite, task: string): string {
  return `${family.prefix}.${family.layout(config).adapterBlock(layer, site)}.adapters.${task}`;
}

/** Every parameter the network reads, in a stable order, with its trainability under `spec.mode`. */
export function parameterSpecs(spec: ModelSpec): ParamSpec[] {
  const c = spec.config;
  const family = familyOf(c);
  const layout = family.layout(c);
  const d = c.hidden_size;
  const out: ParamSpec[] = [];
  const base = (baseName: string, shape: number[]) => {
    const trainable =
      spec.mode === 'full' || (spec.mode === 'adapter' && spec.adapter?.trainLayernorms !== false && layout.isLayerNorm(baseName));
    out.push({ name: `${family.prefix}.${baseName}`, baseName, shape, trainable, role: 'base' });
  };
  const adapterLayers = new Set(spec.mode === 'adapter' ? (spec.adapter?.layers ?? []) : []);
  const adapters = (l: number) => {
    if (!adapterLayers.has(l) || !spec.adapter) return;
    const m = spec.adapter.bottleneck;
    for (const site of ['attention', 'output'] as const) {
      const a = layoutAdapterPrefix(family, c, l, site, spec.task);
      out.push({ name: `${a}.adapter_down.0.weight`, baseName: null, shape: [m, d], trainable: true, role: 'adapter-down-weight' });
      out.push({ name: `${a}.adapter_down.0.bias`, baseName: null, shape: [m], trainable: true, role: 'adapter-bias' });
      out.push({ name: `${a}.adapter_up.weight`, baseName: null, shape: [d, m], trainable: true, role: 'adapter-up-weight' });
      out.push({ name: `${a}.adapter_up.bias`, baseName: null, shape: [d], trainable: true, role: 'adapter-bias' });
    }
  };
  // The family's names map, with each layer's adapters after its last tensor (the order every file keeps).
  let layer = -1;
  for (const [name, shape] of family.baseWeights(c)) {
    const at = layout.layerOf(name);
    if (at !== layer && layer >= 0) adapters(layer);
    layer = at;
    base(name, shape);
  }
  if (layer >= 0) adapters(layer);
  if (family.head.usesPooler(spec.usesPooler)) {
    base('pooler.dense.weight', [d, d]);
    base('pooler.dense.bias', [d]);
  }
  for (const p of family.head.params(d, spec.numLabels)) out.push({ ...p, baseName: null, trainable: true });
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

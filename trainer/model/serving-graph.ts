/**
 * The serving graph: one encoder of a family (trainer/model/families/: its prefix, position ids and head) whose
 * per-task tensors (adapters, LayerNorms, the head's new tensors) are graph inputs
 * stacked over U adapters, with `adapter_index` [B] picking each row's adapter. One onnxruntime session
 * then serves every adapter of a base, and one batch may mix adapters (S-LoRA's idea, for bottleneck
 * adapters): each per-task weight is gathered per row and applied by a batched MatMul on [B, S, d].
 * Frozen base weights (everything but the LayerNorms) are inputs too: the export bakes them, the Node
 * runtime feeds them without a copy.
 *
 * Per-task inputs (leading dim U; M = bottleneck and L = label count, padded to the largest adapter; <p> the
 * family's prefix, bert or roberta):
 *   task.<LayerNorm name>.weight|bias                                   [U, d]
 *   task.<p>.encoder.layer.<l>.<attention.output|output>.adapter_down.weight  [U, d, M]  (PyTorch's [M, d], transposed)
 *   task.<p>.encoder.layer.<l>.<attention.output|output>.adapter_down.bias    [U, M]
 *   task.<p>.encoder.layer.<l>.<attention.output|output>.adapter_up.weight    [U, M, d]  (PyTorch's [d, M], transposed)
 *   task.<p>.encoder.layer.<l>.<attention.output|output>.adapter_up.bias      [U, d]
 *   every head linear, as the family's head.params names it: task.<linear>.weight [U, in, out] (transposed),
 *   task.<linear>.bias [U, out]; BERT: task.classifier.*, out = L; RoBERTa: task.classifier.dense.* (out = d)
 *   and task.classifier.out_proj.* (out = L)
 * Zero adapter weights are an exact identity (h + 0), and zero-padded bottleneck units contribute 0 (every
 * nonlinearity maps 0 to 0), so padding changes no logit.
 */
import type { AdapterConfig, AdapterNonlinearity } from '../../shared/adapter-config.ts';
import type { BertConfig } from '../../shared/bert-config.ts';
import { Graph, type Tensor } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { ATTENTION_MASK, adapterActivation, bertEncoder, INPUT_IDS, TOKEN_TYPE_IDS } from './bert.ts';
import { type HeadParam, type ModelFamily, requirePath } from './families/family.ts';
import { familyOf } from './families/registry.ts';
import { type AdapterSite, adapterPrefix, type ParamSpec, parameterSpecs } from './params.ts';

export interface ServingVariant {
  nonlinearity: AdapterNonlinearity;
  usesPooler: boolean;
}

export interface ServingGraph {
  graph: Graph;
  /** Base weights (bert.* names, PyTorch layouts) that are graph inputs here: bake them or feed them. */
  frozen: ParamSpec[];
}

export interface ServingAdapter {
  config: AdapterConfig;
  /** As read from adapter.safetensors: our PyTorch names (adapters, trained LayerNorms, classifier). */
  tensors: ReadonlyMap<string, Float32Array>;
}

export interface PackedTensor {
  data: Float32Array;
  dims: number[];
}

export const ADAPTER_INDEX = 'adapter_index';
export const TASK_PREFIX = 'task.';

const isLayerNorm = (name: string) => name.includes('LayerNorm');
const block = (site: AdapterSite) => (site === 'attention' ? 'attention.output' : 'output');
const sitePrefix = (layer: number, site: AdapterSite, modelPrefix: string) =>
  `${TASK_PREFIX}${modelPrefix}.encoder.layer.${layer}.${block(site)}`;
const SITES: readonly AdapterSite[] = ['attention', 'output'];

/** The base's LayerNorm parameter names (<prefix>.*), in parameterSpecs order. */
function layerNormNames(config: BertConfig): string[] {
  return baseSpecs(config, false)
    .filter((p) => isLayerNorm(p.name))
    .map((p) => p.name);
}

/**
 * The linear layers of the family's head (head.params paired into weight + bias), with their in/out sizes
 * for `labels` labels: what the serving graph takes per task.
 */
export function headLinears(family: ModelFamily, hiddenSize: number, labels: number): { name: string; in: number; out: number }[] {
  const params = family.head.params(hiddenSize, labels);
  const byName = new Map<string, HeadParam>(params.map((p) => [p.name, p]));
  return params
    .filter((p) => p.role === 'classifier-weight')
    .map((w) => {
      const name = w.name.replace(/\.weight$/, '');
      if (w.shape.length !== 2 || byName.get(`${name}.bias`)?.shape[0] !== w.shape[0])
        throw new Error(`serving graph: the ${family.modelType} head's ${w.name} is not a linear layer with a bias`);
      return { name, in: w.shape[1], out: w.shape[0] };
    });
}

/** The head's linears with symbolic sizes: an axis that follows the label count is 'L'. */
function symbolicHeadLinears(family: ModelFamily, d: number): Map<string, { in: number | 'L'; out: number | 'L' }> {
  const one = headLinears(family, d, 1);
  const two = headLinears(family, d, 2);
  return new Map(one.map((l, i) => [l.name, { in: l.in === two[i].in ? l.in : 'L', out: l.out === two[i].out ? l.out : 'L' }] as const));
}

function baseSpecs(config: BertConfig, usesPooler: boolean): ParamSpec[] {
  return parameterSpecs({ config, task: 'serving', numLabels: 2, mode: 'head', adapter: null, usesPooler }).filter(
    (p) => p.role === 'base',
  );
}

/**
 * `oneAdapter`: the graph of a batch whose rows share one adapter: no adapter_index, per-task inputs of
 * leading dim 1 (packAdapters of U = 1, fed as they are) broadcast over the rows instead of gathered per row.
 */
export function buildServingGraph(config: BertConfig, variant: ServingVariant, opts: { oneAdapter?: boolean } = {}): ServingGraph {
  const family = familyOf(config);
  requirePath(family, 'serving');
  const c = config;
  const d = c.hidden_size;
  const g = new Graph('float32');
  const inputIds = g.input(INPUT_IDS, 'int64', ['B', 'S']);
  const mask = g.input(ATTENTION_MASK, 'int64', ['B', 'S']);
  const tokenTypeIds = g.input(TOKEN_TYPE_IDS, 'int64', ['B', 'S']);
  const adapterIndex = opts.oneAdapter ? null : g.input(ADAPTER_INDEX, 'int64', ['B']);

  const frozen = baseSpecs(c, variant.usesPooler).filter((p) => !isLayerNorm(p.name));
  const params = new Map(frozen.map((p) => [p.name, g.input(p.name, 'float32', p.shape)]));
  const P = (name: string): Tensor => {
    const t = params.get(name);
    if (!t) throw new Error(`serving graph: no frozen parameter ${name}`);
    return t;
  };
  // The per-task inputs, gathered per row once each ([U, ...] -> [B, ...]); one adapter's [1, ...] broadcast.
  const perRow = (name: string, shape: (string | number)[]): Tensor =>
    adapterIndex ? op.gather(g.input(name, 'float32', ['U', ...shape]), adapterIndex) : g.input(name, 'float32', [1, ...shape]);

  const ones = g.constant(new Float32Array(d).fill(1), 'float32', [d], 'ln_ones');
  const zeros = g.constant(new Float32Array(d), 'float32', [d], 'ln_zeros');
  const rows = (x: Tensor) => op.reshape(x, ['B', 'S', d]);
  const flat = (x: Tensor) => op.reshape(x, ['N', d]);
  // Per-row LayerNorm: normalise with unit scale and zero shift, then scale/shift by the row's [B, 1, d] weights.
  const layerNorm = (x: Tensor, prefix: string): Tensor => {
    const w = op.unsqueeze(perRow(`${TASK_PREFIX}${prefix}.weight`, [d]), [1]);
    const b = op.unsqueeze(perRow(`${TASK_PREFIX}${prefix}.bias`, [d]), [1]);
    return flat(op.add(op.mul(rows(op.layerNormalization(x, ones, zeros, c.layer_norm_eps).y), w), b));
  };
  const adapter = (h: Tensor, layer: number, site: AdapterSite, { gelu }: { gelu: (x: Tensor) => Tensor }): Tensor => {
    const p = sitePrefix(layer, site, family.prefix);
    const down = op.add(
      op.matmul(rows(h), perRow(`${p}.adapter_down.weight`, [d, 'M'])),
      op.unsqueeze(perRow(`${p}.adapter_down.bias`, ['M']), [1]),
    );
    const up = op.matmul(adapterActivation(down, variant.nonlinearity, gelu), perRow(`${p}.adapter_up.weight`, ['M', d]));
    return op.add(h, flat(op.add(up, op.unsqueeze(perRow(`${p}.adapter_up.bias`, [d]), [1]))));
  };
  const { hidden, seqLen, layers } = bertEncoder(
    g,
    c,
    P,
    { inputIds, tokenTypeIds, attentionMask: op.cast(mask, 'float32') },
    { basic: false, drop: (x) => x, adapter, layerNorm },
  );

  // [CLS] picked as in buildBertGraph (one-hot over positions), so that logits match it bit for bit where they can.
  const isFirst = op.reshape(op.cast(op.equal(op.range(seqLen, 'S'), g.scalar(0, 'int64')), 'float32'), [1, 'S', 1]);
  const first = op.reduceSum(op.mul(rows(hidden), isFirst), [1], false);
  // The family's head: its own linears per row ([B, in] -> [B, out]), a base linear (BERT's pooler) frozen.
  const heads = symbolicHeadLinears(family, d);
  const linear = (x: Tensor, prefix: string): Tensor => {
    const h = heads.get(prefix);
    if (!h) return layers.linear(x, prefix);
    const w = perRow(`${TASK_PREFIX}${prefix}.weight`, [h.in, h.out]);
    return op.add(op.squeeze(op.matmul(op.unsqueeze(x, [1]), w), [1]), perRow(`${TASK_PREFIX}${prefix}.bias`, [h.out]));
  };
  const pooler = family.head.usesPooler(variant.usesPooler) ? `${family.prefix}.pooler.dense` : null;
  g.output(family.head.build(first, { linear, drop: (x) => x, gelu: layers.gelu }, pooler), 'logits');
  return { graph: g, frozen };
}

/** The variant an adapter needs; `full`-mode adapters change the base itself and cannot share one. */
export function servingVariant(config: AdapterConfig): ServingVariant {
  if (config.mode === 'full') {
    throw new Error(
      `adapter "${config.task}" was trained in full mode (every base weight changed): it cannot share a base; export it baked instead`,
    );
  }
  return { nonlinearity: config.adapter?.nonlinearity ?? 'gelu', usesPooler: config.base.usesPooler };
}

/**
 * Packs U adapters into the serving graph's per-task feeds: bottleneck and label count padded to the
 * largest, absent adapter sites zero (identity), LayerNorms an adapter did not train taken from `base`.
 * `base` is keyed by `bert.`-prefixed names (as parameterSpecs) or the checkpoint's canonical names.
 */
export function packAdapters(
  base: ReadonlyMap<string, Float32Array>,
  config: BertConfig,
  adapters: readonly ServingAdapter[],
): Record<string, PackedTensor> {
  const steps = packingSteps(base, config, adapters);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/**
 * packAdapters in slices, awaiting `pause` between adapter sites: a wide adapter (bottleneck 4,096 on
 * BERT-base: ~600 MB of transposes) never holds the caller's event loop for more than one site.
 */
export async function packAdaptersInSlices(
  base: ReadonlyMap<string, Float32Array>,
  config: BertConfig,
  adapters: readonly ServingAdapter[],
  pause: () => Promise<void>,
): Promise<Record<string, PackedTensor>> {
  const steps = packingSteps(base, config, adapters);
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await pause();
  }
}

/** The packing, yielding after each adapter site (the unit of work packAdaptersInSlices pauses between). */
function* packingSteps(
  base: ReadonlyMap<string, Float32Array>,
  config: BertConfig,
  adapters: readonly ServingAdapter[],
): Generator<void, Record<string, PackedTensor>> {
  if (adapters.length === 0) throw new Error('packAdapters: no adapters to pack');
  const family = familyOf(config);
  const d = config.hidden_size;
  const U = adapters.length;
  for (const a of adapters) {
    servingVariant(a.config);
    if (a.config.base.config.hidden_size !== d || a.config.base.config.num_hidden_layers !== config.num_hidden_layers) {
      throw new Error(`packAdapters: adapter "${a.config.task}" belongs to a base of another shape`);
    }
  }
  let M = 1;
  let L = 0;
  for (const a of adapters) {
    M = Math.max(M, a.config.mode === 'adapter' ? (a.config.adapter?.bottleneck ?? 0) : 0);
    L = Math.max(L, a.config.labels.length);
  }
  const out: Record<string, PackedTensor> = {};
  const alloc = (name: string, dims: number[]): Float32Array => {
    const data = new Float32Array(dims.reduce((x, y) => x * y, 1));
    out[name] = { data, dims };
    return data;
  };
  const tensor = (a: ServingAdapter, name: string, size: number): Float32Array | undefined => {
    const t = a.tensors.get(name);
    if (t && t.length !== size)
      throw new Error(`packAdapters: adapter "${a.config.task}": tensor "${name}" has ${t.length} values, expected ${size}`);
    return t;
  };

  for (const name of layerNormNames(config)) {
    const dst = alloc(`${TASK_PREFIX}${name}`, [U, d]);
    const fromBase = base.get(name) ?? base.get(name.slice(family.prefix.length + 1));
    if (!fromBase) throw new Error(`packAdapters: the base has no tensor "${name}"`);
    adapters.forEach((a, u) => dst.set(tensor(a, name, d) ?? fromBase, u * d));
  }
  for (let l = 0; l < config.num_hidden_layers; l++) {
    for (const site of SITES) {
      const p = sitePrefix(l, site, family.prefix);
      const downW = alloc(`${p}.adapter_down.weight`, [U, d, M]);
      const downB = alloc(`${p}.adapter_down.bias`, [U, M]);
      const upW = alloc(`${p}.adapter_up.weight`, [U, M, d]);
      const upB = alloc(`${p}.adapter_up.bias`, [U, d]);
      adapters.forEach((a, u) => {
        const m = a.config.adapter?.bottleneck ?? 0;
        const src = adapterPrefix(l, site, a.config.task, family.prefix);
        const dw = m > 0 ? tensor(a, `${src}.adapter_down.0.weight`, m * d) : undefined;
        if (!dw) return; // no adapter at this site: zeros, an identity
        const db = tensor(a, `${src}.adapter_down.0.bias`, m);
        const uw = tensor(a, `${src}.adapter_up.weight`, d * m);
        const ub = tensor(a, `${src}.adapter_up.bias`, d);
        if (!db || !uw || !ub) throw new Error(`packAdapters: adapter "${a.config.task}" has an incomplete adapter at ${src}`);
        // PyTorch [m, d] -> [d, M] and [d, m] -> [M, d].
        for (let i = 0; i < m; i++) for (let j = 0; j < d; j++) downW[u * d * M + j * M + i] = dw[i * d + j];
        downB.set(db, u * M);
        for (let j = 0; j < d; j++) for (let i = 0; i < m; i++) upW[u * M * d + i * d + j] = uw[j * m + i];
        upB.set(ub, u * d);
      });
      yield;
    }
  }
  // Each head linear [out, in] -> [in, OUT], zero-padded where out follows the label count.
  const padded = headLinears(family, d, L);
  const own = adapters.map((a) => headLinears(family, d, a.config.labels.length));
  padded.forEach((h, i) => {
    const cw = alloc(`${TASK_PREFIX}${h.name}.weight`, [U, h.in, h.out]);
    const cb = alloc(`${TASK_PREFIX}${h.name}.bias`, [U, h.out]);
    adapters.forEach((a, u) => {
      const { in: nIn, out: nOut } = own[u][i];
      const w = tensor(a, `${h.name}.weight`, nOut * nIn);
      const b = tensor(a, `${h.name}.bias`, nOut);
      if (!w || !b) throw new Error(`packAdapters: adapter "${a.config.task}" has no ${h.name} (${h.name}.weight / ${h.name}.bias)`);
      for (let k = 0; k < nOut; k++) for (let j = 0; j < nIn; j++) cw[u * h.in * h.out + j * h.out + k] = w[k * nIn + j];
      cb.set(b, u * h.out);
    });
  });
  return out;
}

/**
 * Stacks feeds packed one adapter at a time (packAdapters of U = 1 each) into the feeds of one mixed
 * batch: slot u = packs[u], every other dimension zero-padded to the largest (the padding rules above keep
 * logits unchanged). The runtime keeps only each adapter's own packed feeds and stacks them per batch.
 */
export function stackPacked(packs: readonly Record<string, PackedTensor>[]): Record<string, PackedTensor> {
  if (packs.length === 0) throw new Error('stackPacked: nothing to stack');
  const out: Record<string, PackedTensor> = {};
  for (const name of Object.keys(packs[0])) {
    const parts = packs.map((p, u) => {
      const t = p[name];
      if (t?.dims[0] !== 1 || t.dims.length !== packs[0][name].dims.length)
        throw new Error(`stackPacked: pack ${u} has no single-adapter tensor "${name}" of rank ${packs[0][name].dims.length}`);
      return t;
    });
    const dims = stackedDims(parts);
    const data = new Float32Array(dims.reduce((x, y) => x * y, 1));
    const slot = data.length / parts.length;
    parts.forEach((t, u) => padInto(t, dims, data, u * slot));
    out[name] = { data, dims };
  }
  return out;
}

/** The dims of single-adapter tensors stacked: [U, the largest of each other axis]. */
function stackedDims(parts: readonly PackedTensor[]): number[] {
  const dims = [parts.length, ...parts[0].dims.slice(1)];
  for (const t of parts) for (let i = 1; i < dims.length; i++) dims[i] = Math.max(dims[i], t.dims[i]);
  return dims;
}

/**
 * The bytes stackPacked would allocate for these packs (each packed alone), computed without stacking:
 * what a mixed batch costs in padded per-task feeds, for the batcher's budget.
 */
export function stackedBytes(packs: readonly Record<string, PackedTensor>[]): number {
  if (packs.length === 0) return 0;
  let bytes = 0;
  for (const name of Object.keys(packs[0])) {
    const dims = stackedDims(packs.map((p) => p[name] ?? packs[0][name]));
    bytes += dims.reduce((x, y) => x * y, 1) * Float32Array.BYTES_PER_ELEMENT;
  }
  return bytes;
}

/** Copies `t` (dims [1, ...]) into `dst` at `offset`, laid out with the larger `dims` [U, ...] (row-major). */
function padInto(t: PackedTensor, dims: readonly number[], dst: Float32Array, offset: number): void {
  const rank = dims.length;
  const last = t.dims[rank - 1];
  const rows = t.data.length / last; // contiguous runs of the last axis
  const index = new Array<number>(rank - 1).fill(0); // position over axes 1..rank-2 of the source
  for (let r = 0; r < rows; r++) {
    let at = offset;
    let stride = dims[rank - 1];
    for (let i = rank - 2; i >= 1; i--) {
      at += index[i] * stride;
      stride *= dims[i];
    }
    dst.set(t.data.subarray(r * last, (r + 1) * last), at);
    for (let i = rank - 2; i >= 1; i--) {
      if (++index[i] < t.dims[i]) break;
      index[i] = 0;
    }
  }
}

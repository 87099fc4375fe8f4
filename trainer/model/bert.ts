/**
 * A post-LayerNorm encoder (BERT, or another family of trainer/model/families/: its names, position ids and
 * head) with two Houlsby adapters per layer and a sequence classifier, as one graph:
 * forward, mean cross-entropy, and (for training) the gradients of the trainable parameters only.
 * The placement follows docs/method.md exactly.
 */
import type { AdapterNonlinearity } from '../../shared/adapter-config.ts';
import type { BertConfig } from '../../shared/bert-config.ts';
import { gradients } from '../autodiff/gradients.ts';
import { Graph, type Tensor } from '../graph/graph.ts';
import * as op from '../graph/ops.ts';
import { familyOf } from './families/registry.ts';
import { type AdapterSite, layoutAdapterPrefix, type ModelSpec, type ParamSpec, parameterSpecs } from './params.ts';

export interface GraphOptions {
  floatType?: 'float32' | 'float64';
  /**
   * `fused`: ONNX LayerNormalization and erf-GELU (fast, float32). `basic`: LayerNorm spelled out in
   * elementary ops and tanh-GELU, because onnxruntime has no float64 kernels for the fused ones
   * (used by the float64 finite-difference check of the whole step).
   */
  kernels?: 'fused' | 'basic';
  /** Dropout on hidden states and attention probabilities; 0 leaves no dropout node in the graph. */
  dropout?: number;
  seed?: number;
  /** true: outputs loss, logits and `grad:<name>` for every trainable parameter. false: logits only. */
  training: boolean;
  /** Type of the attention_mask input (default: the float type); int64 is what Hugging Face's ONNX exports take, cast inside. */
  maskType?: 'float' | 'int64';
}

export interface BertGraph {
  graph: Graph;
  specs: ParamSpec[];
  /** Graph input of each parameter, by exported name. */
  params: Map<string, Tensor>;
  logits: Tensor;
  loss: Tensor | null;
  /** Output tensor of each trainable parameter's gradient, by parameter name. */
  grads: Map<string, Tensor>;
}

export const INPUT_IDS = 'input_ids';
export const TOKEN_TYPE_IDS = 'token_type_ids';
export const ATTENTION_MASK = 'attention_mask';
export const LABELS = 'labels';
export const gradName = (param: string) => `grad:${param}`;

/** Additive attention bias for padding: large enough that exp() underflows to exactly 0. */
const MASK_BIAS = -1e9;

/** The encoder's graph inputs ([B, S] each). */
export interface EncoderInputs {
  inputIds: Tensor;
  tokenTypeIds: Tensor;
  attentionMask: Tensor;
}

export interface EncoderOptions {
  /** `basic` kernels: see GraphOptions.kernels. */
  basic: boolean;
  /** Dropout (or identity) applied where BERT applies hidden and attention dropout. */
  drop: (x: Tensor) => Tensor;
  /** Houlsby adapter hook after each sub-layer's output projection; default none. */
  adapter?: (h: Tensor, layer: number, site: AdapterSite, layers: BertLayers) => Tensor;
  /** Replaces every LayerNorm (the serving graph's per-row LayerNorm weights); default: LayerNorm over `P`'s weights. */
  layerNorm?: (x: Tensor, prefix: string) => Tensor;
}

/** The layers the encoder is made of, for heads built on top of it (classifier, MLM head). */
export interface BertLayers {
  linear: (x: Tensor, prefix: string) => Tensor;
  layerNorm: (x: Tensor, prefix: string) => Tensor;
  gelu: (x: Tensor) => Tensor;
}

/**
 * The post-LayerNorm encoder (embeddings + layers) over `<family prefix>.`-prefixed parameters `P` (`bert.`, `roberta.`):
 * the last hidden states as [N = B·S, hidden], plus the runtime sequence length and layer builders.
 * Defines the symbolic dimensions B, S and N of `g`.
 */
export function bertEncoder(
  g: Graph,
  c: BertConfig,
  P: (name: string) => Tensor,
  inputs: EncoderInputs,
  o: EncoderOptions,
): { hidden: Tensor; seqLen: Tensor; layers: BertLayers } {
  const { basic, drop } = o;
  const family = familyOf(c);
  const { prefix } = family;
  const layout = family.layout(c);
  const dh = c.hidden_size / c.num_attention_heads;
  const dims = op.shapeOf(inputs.inputIds);
  const seqLen = op.element(dims, 1);
  g.defineDim('B', op.reshape(op.element(dims, 0), [1]));
  g.defineDim('S', op.reshape(seqLen, [1]));
  g.defineDim('N', g.int64s([-1])); // N = B·S, left for Reshape to infer

  const linear = (x: Tensor, prefix: string): Tensor => op.gemm(x, P(`${prefix}.weight`), P(`${prefix}.bias`), { transB: true });
  const layerNorm = (x: Tensor, prefix: string): Tensor => {
    if (o.layerNorm) return o.layerNorm(x, prefix);
    const [w, b] = [P(`${prefix}.weight`), P(`${prefix}.bias`)];
    if (!basic) return op.layerNormalization(x, w, b, c.layer_norm_eps).y;
    const centered = op.sub(x, op.reduceMean(x, [-1], true));
    const variance = op.reduceMean(op.mul(centered, centered), [-1], true);
    return op.add(op.mul(op.div(centered, op.sqrt(op.add(variance, c.layer_norm_eps))), w), b);
  };
  const gelu = (x: Tensor): Tensor => {
    if (!basic) return op.gelu(x);
    const inner = op.mul(op.add(x, op.mul(op.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
    return op.mul(op.mul(x, 0.5), op.add(op.tanh(inner), 1));
  };

  // Embeddings -> [N = B·S, d]: every linear layer then runs as one 2-D Gemm on the [out, in] weight.
  const positionIds = family.positionIds({ inputIds: inputs.inputIds, seqLen, config: c });
  const positions = op.gather(P(`${prefix}.${layout.position}.weight`), positionIds);
  let emb = op.add(op.gather(P(`${prefix}.${layout.word}.weight`), inputs.inputIds), positions);
  if (layout.tokenType) emb = op.add(emb, op.gather(P(`${prefix}.${layout.tokenType}.weight`), inputs.tokenTypeIds));
  let x = drop(layerNorm(op.reshape(emb, ['N', layout.embeddingSize]), `${prefix}.${layout.embeddingNorm}`));
  if (layout.embeddingProject) x = linear(x, `${prefix}.${layout.embeddingProject}`);

  const layers: BertLayers = { linear, layerNorm, gelu };
  const adapter = (h: Tensor, l: number, site: AdapterSite): Tensor => (o.adapter ? o.adapter(h, l, site, layers) : h);

  const maskBias = op.reshape(op.mul(op.sub(1, inputs.attentionMask), MASK_BIAS), ['B', 1, 1, 'S']);
  const heads = (t: Tensor, perm: number[]) => op.transpose(op.reshape(t, ['B', 'S', c.num_attention_heads, dh]), perm);

  for (let l = 0; l < c.num_hidden_layers; l++) {
    const n = layout.layer(l);
    const p = (module: string) => `${prefix}.${module}`;
    // 1/√dh folded into q: an [N, d] multiply instead of one over [B, H, S, S].
    const q = heads(op.mul(linear(x, p(n.query)), 1 / Math.sqrt(dh)), [0, 2, 1, 3]);
    const k = heads(linear(x, p(n.key)), [0, 2, 3, 1]);
    const v = heads(linear(x, p(n.value)), [0, 2, 1, 3]);
    const probs = drop(op.softmax(op.add(op.matmul(q, k), maskBias), -1));
    const context = op.reshape(op.transpose(op.matmul(probs, v), [0, 2, 1, 3]), ['N', c.hidden_size]);
    const attended = linear(context, p(n.attentionOutput));
    const a = adapter(layout.attentionOutputDropout ? drop(attended) : attended, l, 'attention');
    const x1 = layerNorm(op.add(x, a), p(n.attentionNorm));
    const f = adapter(drop(linear(gelu(linear(x1, p(n.intermediate))), p(n.output))), l, 'output');
    x = layerNorm(op.add(x1, f), p(n.outputNorm));
  }
  return { hidden: x, seqLen, layers };
}

/** The adapter's nonlinearity; `gelu` is the encoder's own (erf or tanh form, by kernels). */
export function adapterActivation(x: Tensor, f: AdapterNonlinearity, gelu: (x: Tensor) => Tensor): Tensor {
  switch (f) {
    case 'gelu':
      return gelu(x);
    case 'relu':
      return op.relu(x);
    case 'swish':
      return op.mul(x, op.sigmoid(x));
    case 'tanh':
      return op.tanh(x);
  }
}

export function buildBertGraph(spec: ModelSpec, opts: GraphOptions): BertGraph {
  const c = spec.config;
  const family = familyOf(c);
  const g = new Graph(opts.floatType ?? 'float32');
  const basic = opts.kernels === 'basic';
  const dropoutRatio = opts.dropout ?? 0;
  let dropoutSeed = (opts.seed ?? 0) * 1009;

  const inputIds = g.input(INPUT_IDS, 'int64', ['B', 'S']);
  const tokenTypeIds = g.input(TOKEN_TYPE_IDS, 'int64', ['B', 'S']);
  const maskInput = g.input(ATTENTION_MASK, opts.maskType === 'int64' ? 'int64' : g.floatType, ['B', 'S']);
  const attentionMask = op.cast(maskInput, g.floatType);
  const labels = opts.training ? g.input(LABELS, 'int64', ['B']) : null;

  const specs = parameterSpecs(spec);
  const params = new Map(specs.map((p) => [p.name, g.input(p.name, g.floatType, p.shape)]));
  const P = (name: string): Tensor => {
    const t = params.get(name);
    if (!t) throw new Error(`model: no parameter ${name}`);
    return t;
  };

  const drop = (x: Tensor): Tensor => (dropoutRatio > 0 && opts.training ? op.dropout(x, dropoutRatio, ++dropoutSeed).y : x);
  const adapter = (h: Tensor, layer: number, site: AdapterSite, { linear, gelu }: BertLayers): Tensor => {
    const prefix = layoutAdapterPrefix(family, c, layer, site, spec.task);
    if (!params.has(`${prefix}.adapter_up.weight`) || !spec.adapter) return h;
    const down = adapterActivation(linear(h, `${prefix}.adapter_down.0`), spec.adapter.nonlinearity, gelu);
    return op.add(h, linear(down, `${prefix}.adapter_up`));
  };
  const { hidden: x, seqLen, layers } = bertEncoder(g, c, P, { inputIds, tokenTypeIds, attentionMask }, { basic, drop, adapter });
  const { linear, gelu } = layers;

  // [CLS] = position 0 of each sequence, picked with a one-hot over positions (its gradient is a plain Mul).
  const isFirst = op.reshape(op.cast(op.equal(op.range(seqLen, 'S'), g.scalar(0, 'int64')), g.floatType), [1, 'S', 1]);
  const first = op.reduceSum(op.mul(op.reshape(x, ['B', 'S', c.hidden_size]), isFirst), [1], false);
  const pooler = family.head.usesPooler(spec.usesPooler) ? `${family.prefix}.pooler.dense` : null;
  const logits = family.head.build(first, { linear, drop, gelu }, pooler);

  const result: BertGraph = { graph: g, specs, params, logits: g.output(logits, 'logits'), loss: null, grads: new Map() };
  if (!labels) return result;

  const classes = op.range(g.scalar(spec.numLabels, 'int64'), spec.numLabels);
  const oneHot = op.cast(op.equal(op.unsqueeze(labels, [1]), classes), g.floatType);
  const loss = op.neg(op.reduceMean(op.reduceSum(op.mul(oneHot, op.logSoftmax(logits, -1)), [1], false), [0], false));
  result.loss = g.output(loss, 'loss');
  const trainable = specs.filter((s) => s.trainable);
  const grads = gradients(
    loss,
    trainable.map((s) => P(s.name)),
  );
  for (const s of trainable) result.grads.set(s.name, g.output(grads.get(P(s.name))!, gradName(s.name)));
  return result;
}

/**
 * Rewrites of an exported model's float32 weights, with standard ONNX ops only so the result runs in
 * every onnxruntime (Node, web/WASM, Python, mobile):
 * - float16 storage: the initializer is stored as FLOAT16 and Cast back to float32 at load. Compute stays
 *   float32 because the CPU and WASM execution providers have few float16 kernels (MatMul, LayerNorm and
 *   Gelu would fall back or fail); onnxruntime constant-folds the Casts once, so only the file shrinks.
 * - int8 linear weights, as onnxruntime's dynamic quantization (quantize_dynamic) writes them: the
 *   activation is quantized per call (DynamicQuantizeLinear, uint8), the weight ahead of time (int8,
 *   symmetric, one scale per output channel or per tensor), MatMulInteger, Cast, Mul by the two scales,
 *   Add the bias. onnxruntime fuses the chain into MatMulIntegerToFloat on CPU.
 */
import { create } from '@bufbuild/protobuf';
import {
  type AttributeProto,
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  type ModelProto,
  type NodeProto,
  NodeProtoSchema,
  type TensorProto,
  TensorProto_DataType,
  TensorProtoSchema,
} from 'onnx-buf';
import { encodeF16 } from '../model-files/float16.ts';

function graphOf(model: ModelProto) {
  if (!model.graph) throw new Error('onnx-weights: the model has no graph');
  return model.graph;
}

function floatData(t: TensorProto): Float32Array {
  if (t.dataType !== TensorProto_DataType.FLOAT) throw new Error(`onnx-weights: initializer "${t.name}" is not float32`);
  const copy = t.rawData.slice(); // aligned copy
  return new Float32Array(copy.buffer, copy.byteOffset, copy.byteLength / 4);
}

const bytes = (a: ArrayBufferView): Uint8Array<ArrayBuffer> => new Uint8Array(a.buffer as ArrayBuffer, a.byteOffset, a.byteLength);
const intAttr = (name: string, i: number) => create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(i) });
const node = (opType: string, input: string[], output: string[], attribute: AttributeProto[] = []) =>
  create(NodeProtoSchema, { name: `${opType}_${output[0]}`, opType, input, output, attribute });

/** Stores the named float32 initializers as float16, each Cast back to float32 under its own name. */
export function storeFloat16(model: ModelProto, names: ReadonlySet<string>): void {
  const g = graphOf(model);
  const casts: NodeProto[] = [];
  g.initializer = g.initializer.map((t) => {
    if (!names.has(t.name)) return t;
    const half = encodeF16(floatData(t), new Uint16Array(t.rawData.byteLength / 4));
    const stored = `${t.name}.f16`;
    casts.push(node('Cast', [stored], [t.name], [intAttr('to', TensorProto_DataType.FLOAT)]));
    return create(TensorProtoSchema, { name: stored, dataType: TensorProto_DataType.FLOAT16, dims: t.dims, rawData: bytes(half) });
  });
  g.node = [...casts, ...g.node];
}

export interface Int8Options {
  /** One scale per output channel (default) or one per weight matrix. */
  perChannel?: boolean;
}

/** Symmetric int8 of a PyTorch [out, in] weight, transposed to MatMul's [in, out]; scales per output channel or one. */
export function quantizeWeight(w: Float32Array, out: number, inp: number, perChannel: boolean): { q: Int8Array; scale: Float32Array } {
  const scale = new Float32Array(perChannel ? out : 1);
  for (let o = 0; o < out; o++) {
    let m = 0;
    for (let i = 0; i < inp; i++) m = Math.max(m, Math.abs(w[o * inp + i]));
    const k = perChannel ? o : 0;
    scale[k] = Math.max(scale[k], m / 127);
  }
  for (let k = 0; k < scale.length; k++) if (scale[k] === 0) scale[k] = 1; // an all-zero row: any scale
  const q = new Int8Array(inp * out);
  for (let o = 0; o < out; o++) {
    const s = scale[perChannel ? o : 0];
    for (let i = 0; i < inp; i++) q[i * out + o] = Math.max(-127, Math.min(127, Math.round(w[o * inp + i] / s)));
  }
  return { q, scale };
}

/**
 * Replaces every Gemm (transB = 1, 2-D) whose weight is one of the named initializers by the dynamic
 * int8 chain. Returns how many were replaced.
 */
export function quantizeLinearInt8(model: ModelProto, names: ReadonlySet<string>, opts: Int8Options = {}): number {
  const g = graphOf(model);
  const perChannel = opts.perChannel ?? true;
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const dropped = new Set<string>();
  const added: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  let count = 0;
  for (const n of g.node) {
    const w = n.input[1];
    const attr = (k: string) => Number(n.attribute.find((a) => a.name === k)?.i ?? 0n);
    if (n.opType !== 'Gemm' || !names.has(w) || attr('transB') !== 1 || attr('transA') !== 0) {
      nodes.push(n);
      continue;
    }
    const t = inits.get(w);
    if (t?.dims.length !== 2) throw new Error(`onnx-weights: Gemm weight "${w}" is not a 2-D initializer`);
    const [out, inp] = t.dims.map(Number);
    const { q, scale } = quantizeWeight(floatData(t), out, inp, perChannel);
    dropped.add(w);
    added.push(
      create(TensorProtoSchema, {
        name: `${w}.int8`,
        dataType: TensorProto_DataType.INT8,
        dims: [BigInt(inp), BigInt(out)],
        rawData: bytes(q),
      }),
      create(TensorProtoSchema, {
        name: `${w}.scale`,
        dataType: TensorProto_DataType.FLOAT,
        dims: perChannel ? [BigInt(out)] : [],
        rawData: bytes(scale),
      }),
    );
    const x = n.input[0];
    const y = n.output[0];
    const p = `${y}.q`;
    nodes.push(
      node('DynamicQuantizeLinear', [x], [`${p}.x`, `${p}.x_scale`, `${p}.x_zero`]),
      node('MatMulInteger', [`${p}.x`, `${w}.int8`, `${p}.x_zero`], [`${p}.int32`]),
      node('Cast', [`${p}.int32`], [`${p}.float`], [intAttr('to', TensorProto_DataType.FLOAT)]),
      node('Mul', [`${p}.x_scale`, `${w}.scale`], [`${p}.scale`]),
      n.input[2] ? node('Mul', [`${p}.float`, `${p}.scale`], [`${p}.scaled`]) : node('Mul', [`${p}.float`, `${p}.scale`], [y]),
    );
    if (n.input[2]) nodes.push(node('Add', [`${p}.scaled`, n.input[2]], [y]));
    count++;
  }
  // A weight read by anything else (never, for the encoder's linears) keeps its float32 copy.
  const stillRead = new Set(nodes.flatMap((n) => n.input));
  g.initializer = [...g.initializer.filter((t) => !dropped.has(t.name) || stillRead.has(t.name)), ...added];
  g.node = nodes;
  return count;
}

/**
 * Embedding tables as int8 with one scale per row (what quantize_dynamic does to Gather): each Gather of a
 * named [rows, d] initializer becomes Gather of the int8 table and of its scales, Cast, Mul. The word
 * embeddings are most of a small BERT's bytes, so without this int8 barely shrinks the file.
 */
export function quantizeGatherInt8(model: ModelProto, names: ReadonlySet<string>): number {
  const g = graphOf(model);
  const inits = new Map(g.initializer.map((t) => [t.name, t]));
  const dropped = new Set<string>();
  const added: TensorProto[] = [];
  const nodes: NodeProto[] = [];
  for (const n of g.node) {
    const table = n.input[0];
    const axis = Number(n.attribute.find((a) => a.name === 'axis')?.i ?? 0n);
    const t = inits.get(table);
    if (n.opType !== 'Gather' || !names.has(table) || axis !== 0 || t?.dims.length !== 2) {
      nodes.push(n);
      continue;
    }
    const [rows, d] = t.dims.map(Number);
    if (!dropped.has(table)) {
      // Row r of the table is column r of the transposed [d, rows] matrix: per-channel scales are per row here.
      const w = floatData(t);
      const { q: qT, scale } = quantizeWeight(w, rows, d, true);
      const q = new Int8Array(rows * d);
      for (let r = 0; r < rows; r++) for (let j = 0; j < d; j++) q[r * d + j] = qT[j * rows + r];
      added.push(
        create(TensorProtoSchema, { name: `${table}.int8`, dataType: TensorProto_DataType.INT8, dims: t.dims, rawData: bytes(q) }),
        create(TensorProtoSchema, {
          name: `${table}.scale`,
          dataType: TensorProto_DataType.FLOAT,
          dims: [BigInt(rows), 1n],
          rawData: bytes(scale),
        }),
      );
      dropped.add(table);
    }
    const y = n.output[0];
    const p = `${y}.q`;
    nodes.push(
      node('Gather', [`${table}.int8`, n.input[1]], [`${p}.int8`], [intAttr('axis', 0)]),
      node('Cast', [`${p}.int8`], [`${p}.float`], [intAttr('to', TensorProto_DataType.FLOAT)]),
      node('Gather', [`${table}.scale`, n.input[1]], [`${p}.scale`], [intAttr('axis', 0)]),
      node('Mul', [`${p}.float`, `${p}.scale`], [y]),
    );
  }
  const stillRead = new Set(nodes.flatMap((n) => n.input));
  g.initializer = [...g.initializer.filter((t) => !dropped.has(t.name) || stillRead.has(t.name)), ...added];
  g.node = nodes;
  return dropped.size;
}

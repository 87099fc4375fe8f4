/** Serialises a Graph to ONNX ModelProto bytes (the default ONNX domain at opset OPSET, 20), keeping symbolic dimensions as dim_param. */
import { create, toBinary } from '@bufbuild/protobuf';
import {
  type AttributeProto,
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  type ModelProto,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  type TensorProto,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from 'onnx-buf';
import { type Attr, type Constant, type Graph, numel, type Tensor } from './graph.ts';
import { ONNX_DTYPE } from './ops.ts';

export const OPSET = 20;
const IR_VERSION = 8n;

function valueInfo(t: Tensor): ValueInfoProto {
  const dim = t.shape.map((d) =>
    create(TensorShapeProto_DimensionSchema, {
      value: typeof d === 'number' ? { case: 'dimValue', value: BigInt(d) } : { case: 'dimParam', value: d },
    }),
  );
  return create(ValueInfoProtoSchema, {
    name: t.name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, { elemType: ONNX_DTYPE[t.dtype], shape: create(TensorShapeProtoSchema, { dim }) }),
      },
    }),
  });
}

function tensorProto(c: Constant): TensorProto {
  const { tensor, data } = c;
  const raw = new Uint8Array(data.byteLength);
  raw.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return create(TensorProtoSchema, {
    name: tensor.name,
    dataType: ONNX_DTYPE[tensor.dtype],
    dims: tensor.shape.map((d) => {
      if (typeof d !== 'number') throw new Error(`onnx-export: constant "${tensor.name}" has a symbolic shape`);
      return BigInt(d);
    }),
    rawData: raw,
  });
}

function attribute(name: string, a: Attr): AttributeProto {
  switch (a.kind) {
    case 'int':
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INT, i: BigInt(a.value) });
    case 'float':
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.FLOAT, f: a.value });
    case 'ints':
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.INTS, ints: a.value.map(BigInt) });
    case 'string':
      return create(AttributeProtoSchema, { name, type: AttributeProto_AttributeType.STRING, s: new TextEncoder().encode(a.value) });
  }
}

/** Only nodes that some graph output depends on are exported: dead forward branches cost nothing. */
function liveNodes(graph: Graph, outputs: readonly Tensor[]): Graph['nodes'] {
  const needed = new Set<Tensor>(outputs);
  const live: Graph['nodes'] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i];
    if (!node.outputs.some((o) => needed.has(o))) continue;
    live.push(node);
    for (const x of node.inputs) if (x) needed.add(x);
  }
  return live.reverse();
}

export interface OnnxExportOptions {
  /** Float32 graph inputs to bake in as initializers (a self-contained model), by input name; they are no longer inputs. */
  initializers?: ReadonlyMap<string, Float32Array>;
}

/** @param outputs the outputs to export (default: the graph's); a subset exports a smaller model from the same graph. */
export function toOnnxModel(
  graph: Graph,
  name = 'graph',
  outputs: readonly Tensor[] = graph.outputs,
  opts: OnnxExportOptions = {},
): Uint8Array {
  return toBinary(ModelProtoSchema, toOnnxProto(graph, name, outputs, opts));
}

/** The same model as a ModelProto message, for rewrites before serialisation (float16 storage, int8 weights). */
export function toOnnxProto(
  graph: Graph,
  name = 'graph',
  outputs: readonly Tensor[] = graph.outputs,
  opts: OnnxExportOptions = {},
): ModelProto {
  const baked = opts.initializers ?? new Map<string, Float32Array>();
  for (const n of baked.keys()) {
    const t = graph.inputs.find((x) => x.name === n);
    if (!t) throw new Error(`onnx-export: no graph input "${n}" to bake`);
    if (t.dtype !== 'float32') throw new Error(`onnx-export: input "${n}" is ${t.dtype}, only float32 inputs are baked`);
    if (baked.get(n)!.length !== numel(t.shape))
      throw new Error(`onnx-export: "${n}" has ${baked.get(n)!.length} values for shape [${t.shape}]`);
  }
  const nodes = liveNodes(graph, outputs);
  const used = new Set<Tensor>();
  for (const n of nodes) for (const x of n.inputs) if (x) used.add(x);
  for (const o of outputs) used.add(o);
  const node = nodes.map((n, i) =>
    create(NodeProtoSchema, {
      name: `${n.op}_${i}`,
      opType: n.op,
      input: n.inputs.map((x) => x?.name ?? ''),
      output: n.outputs.map((o) => o.name),
      attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)),
    }),
  );
  const bakedInputs = graph.inputs.filter((t) => baked.has(t.name) && used.has(t));
  return create(ModelProtoSchema, {
    irVersion: IR_VERSION,
    producerName: 'adapter-store-trainer',
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(OPSET) })],
    graph: create(GraphProtoSchema, {
      name,
      node,
      // Inputs that no live node reads are still declared, so callers can feed one fixed set of names.
      input: graph.inputs.filter((t) => !baked.has(t.name)).map(valueInfo),
      output: outputs.map(valueInfo),
      initializer: [
        ...graph.constants.filter((c) => used.has(c.tensor)).map(tensorProto),
        ...bakedInputs.map((t) => tensorProto({ tensor: t, data: baked.get(t.name)! })),
      ],
    }),
  });
}

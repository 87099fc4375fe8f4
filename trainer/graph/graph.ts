/**
 * A small symbolic graph builder: typed tensors with symbolic shapes, nodes in creation order.
 * Creation order is a topological order, which is all the autodiff and the ONNX export need.
 */

export type DType = 'float32' | 'float64' | 'int64' | 'bool';

/** A dimension: a fixed size, or a symbol ("B", "S") that stays dynamic in the exported model. */
export type Dim = number | string;
export type Shape = readonly Dim[];

export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: readonly number[] }
  | { kind: 'string'; value: string };

export const attr = {
  int: (value: number): Attr => ({ kind: 'int', value }),
  float: (value: number): Attr => ({ kind: 'float', value }),
  ints: (value: readonly number[]): Attr => ({ kind: 'ints', value }),
  string: (value: string): Attr => ({ kind: 'string', value }),
};

export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Shape,
    /** The node that computes this tensor; null for graph inputs and constants. */
    readonly producer: Node | null,
  ) {}

  get rank(): number {
    return this.shape.length;
  }
}

export interface Node {
  readonly op: string;
  /** null marks an omitted optional input (exported as ""). */
  readonly inputs: readonly (Tensor | null)[];
  readonly outputs: readonly Tensor[];
  readonly attrs: Readonly<Record<string, Attr>>;
}

export interface Constant {
  readonly tensor: Tensor;
  readonly data: Float32Array | Float64Array | BigInt64Array | Uint8Array;
}

export interface OutputSpec {
  dtype: DType;
  shape: Shape;
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly inputs: Tensor[] = [];
  readonly outputs: Tensor[] = [];
  private readonly constantList: Constant[] = [];
  /** The same constants by tensor: rules look their values up (Pow's exponent, Reduce axes). */
  private readonly constantByTensor = new Map<Tensor, Constant>();
  /** Runtime int64 [1] tensors holding the value of each symbolic dimension (for Reshape targets). */
  private readonly dimValues = new Map<string, Tensor>();
  private readonly names = new Set<string>();
  private readonly scalarCache = new Map<string, Tensor>();
  private counter = 0;

  /** @param floatType the float type of activations and weights (float64 only for gradient checks). */
  constructor(readonly floatType: 'float32' | 'float64' = 'float32') {}

  uniqueName(hint: string): string {
    let name = hint;
    while (this.names.has(name)) name = `${hint}_${++this.counter}`;
    this.names.add(name);
    return name;
  }

  input(name: string, dtype: DType, shape: Shape): Tensor {
    if (this.names.has(name)) throw new Error(`graph: duplicate tensor name "${name}"`);
    this.names.add(name);
    const t = new Tensor(this, name, dtype, shape, null);
    this.inputs.push(t);
    return t;
  }

  constant(data: Constant['data'], dtype: DType, shape: Shape, hint = 'const'): Tensor {
    const t = new Tensor(this, this.uniqueName(hint), dtype, shape, null);
    const c = { tensor: t, data };
    this.constantList.push(c);
    this.constantByTensor.set(t, c);
    return t;
  }

  /** Every constant, in creation order (the export's initializers). */
  get constants(): readonly Constant[] {
    return this.constantList;
  }

  /** The constant behind `t`, or undefined when `t` is computed or fed at run time. */
  constantOf(t: Tensor): Constant | undefined {
    return this.constantByTensor.get(t);
  }

  /** A float scalar of the graph's float type (shape []), shared between uses. */
  scalar(value: number, dtype: DType = this.floatType): Tensor {
    const key = `${dtype}:${value}`;
    let t = this.scalarCache.get(key);
    if (!t) {
      const data =
        dtype === 'float64'
          ? Float64Array.of(value)
          : dtype === 'float32'
            ? Float32Array.of(value)
            : dtype === 'int64'
              ? BigInt64Array.of(BigInt(value))
              : Uint8Array.of(value ? 1 : 0);
      t = this.constant(data, dtype, [], 'scalar');
      this.scalarCache.set(key, t);
    }
    return t;
  }

  int64s(values: readonly number[], hint = 'ints'): Tensor {
    return this.constant(BigInt64Array.from(values.map(BigInt)), 'int64', [values.length], hint);
  }

  node(op: string, inputs: readonly (Tensor | null)[], outs: readonly OutputSpec[], attrs: Record<string, Attr> = {}): Tensor[] {
    for (const x of inputs) {
      if (x && x.graph !== this) throw new Error(`graph: ${op} got a tensor "${x.name}" of another graph`);
    }
    const outputs: Tensor[] = [];
    const node: Node = { op, inputs, outputs, attrs };
    for (const spec of outs) outputs.push(new Tensor(this, this.uniqueName(op.toLowerCase()), spec.dtype, spec.shape, node));
    this.nodes.push(node);
    return outputs;
  }

  output(t: Tensor, name?: string): Tensor {
    let out = t;
    // A tensor is exported under a new name through an Identity node.
    if (name && name !== t.name) {
      if (this.names.has(name)) throw new Error(`graph: duplicate tensor name "${name}"`);
      this.names.add(name);
      const outputs: Tensor[] = [];
      const node: Node = { op: 'Identity', inputs: [t], outputs, attrs: {} };
      out = new Tensor(this, name, t.dtype, t.shape, node);
      outputs.push(out);
      this.nodes.push(node);
    }
    this.outputs.push(out);
    return out;
  }

  /** Declare the runtime value of a symbolic dimension as an int64 [1] tensor. */
  defineDim(symbol: string, value: Tensor): void {
    this.dimValues.set(symbol, value);
  }

  dimValue(symbol: string): Tensor {
    const t = this.dimValues.get(symbol);
    if (!t) throw new Error(`graph: symbolic dimension "${symbol}" has no runtime value (defineDim it first)`);
    return t;
  }
}

export function shapeToString(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

/** Number of elements of a fully numeric shape. */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number') throw new Error(`numel: symbolic dimension "${d}" in ${shapeToString(shape)}`);
    n *= d;
  }
  return n;
}

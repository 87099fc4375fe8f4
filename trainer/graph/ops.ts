/**
 * The ONNX ops the trainer uses, each with its output shape worked out symbolically.
 * Every function takes and returns graph tensors; the autodiff rules are written with these too.
 */
import { attr, type Dim, type DType, type Graph, type Shape, shapeToString, type Tensor } from './graph.ts';

function graphOf(...ts: (Tensor | null)[]): Graph {
  const t = ts.find((x): x is Tensor => x !== null);
  if (!t) throw new Error('ops: no tensor to take the graph from');
  return t.graph;
}

function normAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new Error(`ops: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Numpy-style broadcast of two symbolic shapes; a symbol equals only itself. */
export function broadcastShapes(a: Shape, b: Shape): Dim[] {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else throw new Error(`ops: shapes ${shapeToString(a)} and ${shapeToString(b)} do not broadcast`);
  }
  return out;
}

function binary(op: string, a: Tensor, b: Tensor): Tensor {
  if (a.dtype !== b.dtype) throw new Error(`ops: ${op} of ${a.dtype} and ${b.dtype}`);
  return a.graph.node(op, [a, b], [{ dtype: a.dtype, shape: broadcastShapes(a.shape, b.shape) }])[0];
}

function unary(op: string, x: Tensor, attrs = {}): Tensor {
  return x.graph.node(op, [x], [{ dtype: x.dtype, shape: x.shape }], attrs)[0];
}

/** A number becomes a scalar constant of the other operand's type. */
type Operand = Tensor | number;
function pair(a: Operand, b: Operand): [Tensor, Tensor] {
  const g = graphOf(typeof a === 'number' ? null : a, typeof b === 'number' ? null : b);
  const ta = typeof a === 'number' ? g.scalar(a, (b as Tensor).dtype) : a;
  const tb = typeof b === 'number' ? g.scalar(b, ta.dtype) : b;
  return [ta, tb];
}

export const add = (a: Operand, b: Operand): Tensor => binary('Add', ...pair(a, b));
export const sub = (a: Operand, b: Operand): Tensor => binary('Sub', ...pair(a, b));
export const mul = (a: Operand, b: Operand): Tensor => binary('Mul', ...pair(a, b));
export const div = (a: Operand, b: Operand): Tensor => binary('Div', ...pair(a, b));
export const pow = (a: Tensor, exponent: number): Tensor => binary('Pow', ...pair(a, exponent));
export const neg = (x: Tensor): Tensor => unary('Neg', x);
export const exp = (x: Tensor): Tensor => unary('Exp', x);
export const sqrt = (x: Tensor): Tensor => unary('Sqrt', x);
export const tanh = (x: Tensor): Tensor => unary('Tanh', x);
export const sigmoid = (x: Tensor): Tensor => unary('Sigmoid', x);
export const relu = (x: Tensor): Tensor => unary('Relu', x);
export const erf = (x: Tensor): Tensor => unary('Erf', x);
export const identity = (x: Tensor): Tensor => unary('Identity', x);
export const softmax = (x: Tensor, axis = -1): Tensor => unary('Softmax', x, { axis: attr.int(axis) });
export const logSoftmax = (x: Tensor, axis = -1): Tensor => unary('LogSoftmax', x, { axis: attr.int(axis) });

export function equal(a: Tensor, b: Tensor): Tensor {
  return a.graph.node('Equal', [a, b], [{ dtype: 'bool', shape: broadcastShapes(a.shape, b.shape) }])[0];
}

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  return x.graph.node('Cast', [x], [{ dtype: to, shape: x.shape }], { to: attr.int(ONNX_DTYPE[to]) })[0];
}

export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const [ta, tb] = pair(a, b);
  const shape = broadcastShapes(cond.shape, broadcastShapes(ta.shape, tb.shape));
  return cond.graph.node('Where', [cond, ta, tb], [{ dtype: ta.dtype, shape }])[0];
}

/** Batched matrix product with numpy broadcasting of the leading dimensions. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank < 2 || b.rank < 2) throw new Error('ops: matmul needs rank >= 2 operands');
  const k1 = a.shape[a.rank - 1];
  const k2 = b.shape[b.rank - 2];
  if (k1 !== k2) throw new Error(`ops: matmul inner dimensions differ: ${shapeToString(a.shape)} x ${shapeToString(b.shape)}`);
  const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  return a.graph.node('MatMul', [a, b], [{ dtype: a.dtype, shape: [...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]] }])[0];
}

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
}

/** 2-D `op(A) · op(B) (+ C)`: the linear layer on [N, in] activations with PyTorch's [out, in] weights (transB). */
export function gemm(a: Tensor, b: Tensor, c: Tensor | null, opts: GemmOptions = {}): Tensor {
  if (a.rank !== 2 || b.rank !== 2) throw new Error('ops: gemm needs 2-D operands');
  const [m, ka] = opts.transA ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = opts.transB ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (ka !== kb) throw new Error(`ops: gemm inner dimensions differ: ${ka} vs ${kb}`);
  const attrs = { transA: attr.int(opts.transA ? 1 : 0), transB: attr.int(opts.transB ? 1 : 0) };
  const inputs = c ? [a, b, c] : [a, b];
  return a.graph.node('Gemm', inputs, [{ dtype: a.dtype, shape: [m, n] }], attrs)[0];
}

export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank) throw new Error(`ops: transpose perm ${perm} for rank ${x.rank}`);
  return x.graph.node('Transpose', [x], [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }], { perm: attr.ints(perm) })[0];
}

/** Reshape to a symbolic shape; symbols are resolved at run time through Graph.defineDim. */
export function reshape(x: Tensor, target: Shape): Tensor {
  const g = x.graph;
  let shapeTensor: Tensor;
  if (target.every((d) => typeof d === 'number')) {
    shapeTensor = g.int64s(target as number[], 'shape');
  } else {
    const parts = target.map((d) => (typeof d === 'number' ? g.int64s([d], 'dim') : g.dimValue(d)));
    shapeTensor = concat(parts, 0);
  }
  return reshapeTo(x, shapeTensor, target);
}

/** Reshape to a runtime shape tensor whose static form is already known. */
export function reshapeTo(x: Tensor, shapeTensor: Tensor, staticShape: Shape): Tensor {
  return x.graph.node('Reshape', [x, shapeTensor], [{ dtype: x.dtype, shape: staticShape }])[0];
}

export function shapeOf(x: Tensor): Tensor {
  return x.graph.node('Shape', [x], [{ dtype: 'int64', shape: [x.rank] }])[0];
}

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  const first = xs[0];
  const a = normAxis(axis, first.rank);
  const shape: Dim[] = [...first.shape];
  const sizes = xs.map((x) => x.shape[a]);
  shape[a] = sizes.every((d) => typeof d === 'number') ? (sizes as number[]).reduce((s, d) => s + d, 0) : `concat(${sizes.join(',')})`;
  return first.graph.node('Concat', xs, [{ dtype: first.dtype, shape }], { axis: attr.int(axis) })[0];
}

/** Rows of `table` (axis 0) picked by integer `indices`: embeddings. */
export function gather(table: Tensor, indices: Tensor): Tensor {
  const shape = [...indices.shape, ...table.shape.slice(1)];
  return table.graph.node('Gather', [table, indices], [{ dtype: table.dtype, shape }], { axis: attr.int(0) })[0];
}

/** `base` with `updates` added at `indices` along the leading axes (the gradient of gather). */
export function scatterAdd(base: Tensor, indices: Tensor, updates: Tensor): Tensor {
  return base.graph.node('ScatterND', [base, indices, updates], [{ dtype: base.dtype, shape: base.shape }], {
    reduction: attr.string('add'),
  })[0];
}

export function unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
  const shape: Dim[] = [...x.shape];
  const rank = x.rank + axes.length;
  for (const a of [...axes].map((ax) => (ax < 0 ? ax + rank : ax)).sort((p, q) => p - q)) shape.splice(a, 0, 1);
  return x.graph.node('Unsqueeze', [x, x.graph.int64s(axes, 'axes')], [{ dtype: x.dtype, shape }])[0];
}

/** Zeros shaped like a tensor (its runtime shape). */
export function zerosLike(x: Tensor): Tensor {
  return expand(x.graph.scalar(0, x.dtype), shapeOf(x), x.shape);
}

/** Broadcast `x` to a runtime shape whose static form is known. */
export function expand(x: Tensor, shapeTensor: Tensor, staticShape: Shape): Tensor {
  return x.graph.node('Expand', [x, shapeTensor], [{ dtype: x.dtype, shape: staticShape }])[0];
}

function reduce(op: string, x: Tensor, axes: readonly number[], keepdims: boolean): Tensor {
  const norm = axes.map((a) => normAxis(a, x.rank));
  const shape: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!norm.includes(i)) shape.push(d);
    else if (keepdims) shape.push(1);
  });
  return x.graph.node(op, [x, x.graph.int64s(norm, 'axes')], [{ dtype: x.dtype, shape }], { keepdims: attr.int(keepdims ? 1 : 0) })[0];
}

export const reduceSum = (x: Tensor, axes: readonly number[], keepdims = false): Tensor => reduce('ReduceSum', x, axes, keepdims);
export const reduceMean = (x: Tensor, axes: readonly number[], keepdims = false): Tensor => reduce('ReduceMean', x, axes, keepdims);

/** ONNX LayerNormalization over the last axis; also returns the saved mean and 1/std for the backward pass. */
export function layerNormalization(x: Tensor, scale: Tensor, bias: Tensor, epsilon: number): { y: Tensor; mean: Tensor; invStd: Tensor } {
  const stats: Shape = [...x.shape.slice(0, -1), 1];
  const [y, mean, invStd] = x.graph.node(
    'LayerNormalization',
    [x, scale, bias],
    [
      { dtype: x.dtype, shape: x.shape },
      { dtype: x.dtype, shape: stats },
      { dtype: x.dtype, shape: stats },
    ],
    { axis: attr.int(-1), epsilon: attr.float(epsilon) },
  );
  return { y, mean, invStd };
}

/** Training-mode dropout; returns the kept-element mask too (the backward pass reuses it). */
export function dropout(x: Tensor, ratio: number, seed: number): { y: Tensor; mask: Tensor } {
  const g = x.graph;
  const [y, mask] = g.node(
    'Dropout',
    [x, g.scalar(ratio, x.dtype), g.scalar(1, 'bool')],
    [
      { dtype: x.dtype, shape: x.shape },
      { dtype: 'bool', shape: x.shape },
    ],
    { seed: attr.int(seed) },
  );
  return { y, mask };
}

/** ONNX TensorProto.DataType codes. */
export const ONNX_DTYPE: Record<DType, number> = { float32: 1, bool: 9, int64: 7, float64: 11 };

export function greater(a: Tensor, b: Operand): Tensor {
  const [ta, tb] = pair(a, b);
  return a.graph.node('Greater', [ta, tb], [{ dtype: 'bool', shape: broadcastShapes(ta.shape, tb.shape) }])[0];
}

/** Element count of a tensor, as an int64 scalar computed at run time. */
export function size(x: Tensor): Tensor {
  return x.graph.node('Size', [x], [{ dtype: 'int64', shape: [] }])[0];
}

export const reciprocal = (x: Tensor): Tensor => unary('Reciprocal', x);

/** 0, 1, ..., limit-1 as int64, with `limit` an int64 scalar known at run time. */
export function range(limit: Tensor, length: Dim): Tensor {
  const g = limit.graph;
  return g.node('Range', [g.scalar(0, 'int64'), limit, g.scalar(1, 'int64')], [{ dtype: 'int64', shape: [length] }])[0];
}

/** Element `index` of a 1-D int64 tensor as a scalar (e.g. one dimension of a Shape). */
export function element(x: Tensor, index: number): Tensor {
  return x.graph.node('Gather', [x, x.graph.scalar(index, 'int64')], [{ dtype: x.dtype, shape: [] }], { axis: attr.int(0) })[0];
}

/** GELU with the exact erf form, x·Φ(x), as the single ONNX Gelu op (opset 20): one saved input, no temporaries. */
export const gelu = (x: Tensor): Tensor => unary('Gelu', x);

/** Drops the given size-1 axes (inference only: no autodiff rule). */
export function squeeze(x: Tensor, axes: readonly number[]): Tensor {
  const norm = axes.map((a) => normAxis(a, x.rank));
  const shape = x.shape.filter((_, i) => !norm.includes(i));
  return x.graph.node('Squeeze', [x, x.graph.int64s(norm, 'axes')], [{ dtype: x.dtype, shape }])[0];
}

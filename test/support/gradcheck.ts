/**
 * Central finite-difference checks of the autodiff: builds `loss = Σ f(inputs) ⊙ R` (R fixed random),
 * asks our autodiff for ∂loss/∂input, and compares with (L(x+h) − L(x−h)) / 2h computed by running
 * the forward graph in onnxruntime with each element nudged.
 */
import { gradients } from '../../trainer/autodiff/gradients.ts';
import { type DType, Graph, numel, type Tensor } from '../../trainer/graph/graph.ts';
import { toOnnxModel } from '../../trainer/graph/onnx-export.ts';
import { mul, reduceSum } from '../../trainer/graph/ops.ts';
import { createSession, type HostArray, hostTensor } from '../../trainer/sessions/session.ts';
import { centralDifferences, relativeError } from './finite-differences.ts';

export interface InputSpec {
  name: string;
  shape: number[];
  /** Default: uniform in [-1, 1) of the graph's float type. */
  data?: HostArray;
  dtype?: DType;
  /** Default true for float inputs. */
  check?: boolean;
}

export interface GradCheckResult {
  /** max |ours − fd| / max(max |fd|, 1e-6) over all checked inputs. */
  maxRelError: number;
  perInput: Record<string, number>;
  analytic: Record<string, Float64Array>;
  /** What was drawn: the loss weights R and every input's values (given or random). */
  weights: Float64Array;
  inputs: Record<string, HostArray>;
}

/** Deterministic PRNG (mulberry32) so failures reproduce. */
export function randomArray(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  let a = seed >>> 0;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

function asFloat(data: Float64Array, dtype: DType): HostArray {
  return dtype === 'float32' ? Float32Array.from(data) : data;
}

export async function gradCheck(
  build: (g: Graph, inputs: Tensor[]) => Tensor,
  specs: InputSpec[],
  opts: { floatType?: 'float32' | 'float64'; step?: number; seed?: number } = {},
): Promise<GradCheckResult> {
  const floatType = opts.floatType ?? 'float64';
  const h = opts.step ?? (floatType === 'float64' ? 1e-6 : 1e-2);
  const g = new Graph(floatType);
  const inputs = specs.map((s) => g.input(s.name, s.dtype ?? floatType, s.shape));
  const out = build(g, inputs);
  const outShape = out.shape.map((d) => {
    if (typeof d !== 'number') throw new Error('gradCheck: output shape must be numeric');
    return d;
  });
  const raw = randomArray(numel(outShape), 1234);
  const weightData = floatType === 'float32' ? Float32Array.from(raw) : raw;
  const weights = g.constant(weightData, floatType, outShape, 'R');
  const loss = reduceSum(
    mul(out, weights),
    Array.from({ length: out.rank }, (_, i) => i),
    false,
  );
  const checked = inputs.filter((t, i) => specs[i].check ?? (t.dtype === 'float32' || t.dtype === 'float64'));
  const grads = gradients(loss, checked);
  const lossOut = g.output(loss, 'loss');
  const gradOuts = checked.map((t) => g.output(grads.get(t)!, `grad_${t.name}`));

  const optimization = floatType === 'float64' ? 'basic' : 'all';
  const full = await createSession(toOnnxModel(g), { optimization });
  const forward = await createSession(toOnnxModel(g, 'forward', [lossOut]), { optimization });
  const feeds: Record<string, ReturnType<typeof hostTensor>> = {};
  const values = new Map<Tensor, HostArray>();
  const drawnInputs: Record<string, HostArray> = {};
  inputs.forEach((t, i) => {
    const s = specs[i];
    const data = s.data ?? asFloat(randomArray(numel(s.shape), 99 + i * 7919 + (opts.seed ?? 0)), t.dtype);
    values.set(t, data);
    drawnInputs[t.name] = data;
    feeds[t.name] = hostTensor(data, s.shape);
  });
  const result = await full.run(feeds);

  const perInput: Record<string, number> = {};
  const analytic: Record<string, Float64Array> = {};
  let maxRelError = 0;
  for (const [k, t] of checked.entries()) {
    const ours = Float64Array.from(result[gradOuts[k].name].data as Float32Array | Float64Array);
    analytic[t.name] = ours;
    const x = values.get(t) as Float32Array | Float64Array;
    const fd = await centralDifferences(x, async () => Number((await forward.run(feeds)).loss.data[0]), { h });
    perInput[t.name] = relativeError(ours, fd);
    maxRelError = Math.max(maxRelError, perInput[t.name]);
  }
  await full.release();
  await forward.release();
  return { maxRelError, perInput, analytic, weights: Float64Array.from(weightData), inputs: drawnInputs };
}

/** Central finite differences, the independent reference every gradient in the trainer is checked against. */

export interface FiniteDifferences {
  /** The elements of x that were perturbed, in order. */
  indices: number[];
  /** (f(x + h·e_i) − f(x − h·e_i)) / 2h for each of them. */
  values: Float64Array;
}

/**
 * Perturbs x in place one element at a time (restoring it) and evaluates the scalar `f` on each side.
 * `stride` > 1 samples every stride-th element, for big tensors.
 */
export async function centralDifferences(
  x: Float32Array | Float64Array,
  f: () => Promise<number>,
  o: { h: number; stride?: number },
): Promise<FiniteDifferences> {
  const indices: number[] = [];
  for (let i = 0; i < x.length; i += o.stride ?? 1) indices.push(i);
  const values = new Float64Array(indices.length);
  for (const [k, i] of indices.entries()) {
    const orig = x[i];
    x[i] = orig + o.h;
    const plus = await f();
    x[i] = orig - o.h;
    const minus = await f();
    x[i] = orig;
    values[k] = (plus - minus) / (2 * o.h);
  }
  return { indices, values };
}

/** max |ours[i] − fd| / max(max |fd|, floor) over the drawn elements. */
export function relativeError(ours: ArrayLike<number>, fd: FiniteDifferences, floor = 1e-6): number {
  let maxDiff = 0;
  let scale = floor;
  fd.indices.forEach((i, k) => {
    maxDiff = Math.max(maxDiff, Math.abs(ours[i] - fd.values[k]));
    scale = Math.max(scale, Math.abs(fd.values[k]));
  });
  return maxDiff / scale;
}

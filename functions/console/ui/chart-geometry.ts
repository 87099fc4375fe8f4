/**
 * The geometry of the console's line charts (loss and learning rate against steps): scales, "nice" axis
 * ticks and the SVG path. Pure (no DOM): tested in Node; chart.ts draws it.
 */

export interface Point {
  x: number;
  y: number;
}

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** Round tick values (1, 2 or 5 times a power of ten) covering [min, max], about `count` of them. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  // A range lost in float noise (0.8 and 0.8000000000000002) is flat: its step would not move a tick.
  if (max - min <= Math.max(Math.abs(min), Math.abs(max)) * 1e-9) {
    const pad = min === 0 ? 1 : Math.abs(min) * 0.1;
    return niceTicks(min - pad, max + pad, count);
  }
  const raw = (max - min) / Math.max(1, count);
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const first = Math.floor(min / step) * step;
  const ticks: number[] = [];
  for (let t = first; t <= max + step * 0.5 && ticks.length < 50; t += step) ticks.push(Number(t.toPrecision(12)));
  if (ticks[ticks.length - 1] < max) ticks.push(Number((ticks[ticks.length - 1] + step).toPrecision(12)));
  return ticks;
}

export interface Scaled {
  /** The polyline's `d`, in the box's coordinates. */
  path: string;
  xTicks: { value: number; at: number }[];
  yTicks: { value: number; at: number }[];
}

/** Scales points (non-finite ones dropped) into `box`, with the y axis from the lowest to the highest tick. */
export function scale(points: readonly Point[], box: Box): Scaled {
  const { paths, xTicks, yTicks } = scaleAll([points], box);
  return { path: paths[0], xTicks, yTicks };
}

/** Several series on shared axes (the ticks cover them all): one path per series, in order. */
export function scaleAll(
  series: readonly (readonly Point[])[],
  box: Box,
): { paths: string[]; xTicks: Scaled['xTicks']; yTicks: Scaled['yTicks'] } {
  const finite = series.map((points) => points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y)));
  const pts = finite.flat();
  if (pts.length === 0) return { paths: series.map(() => ''), xTicks: [], yTicks: [] };
  const xs = pts.map((p) => p.x);
  const ys = pts.map((p) => p.y);
  const xt = niceTicks(
    xs.reduce((m, v) => Math.min(m, v), Infinity),
    xs.reduce((m, v) => Math.max(m, v), -Infinity),
    5,
  );
  const yt = niceTicks(
    ys.reduce((m, v) => Math.min(m, v), Infinity),
    ys.reduce((m, v) => Math.max(m, v), -Infinity),
    4,
  );
  const [x0, x1] = [xt[0], xt[xt.length - 1]];
  const [y0, y1] = [yt[0], yt[yt.length - 1]];
  const sx = (x: number) => box.left + ((x - x0) / (x1 - x0)) * box.width;
  const sy = (y: number) => box.top + box.height - ((y - y0) / (y1 - y0)) * box.height;
  const r = (v: number) => Math.round(v * 10) / 10;
  const paths = finite.map((line) => line.map((p, i) => `${i === 0 ? 'M' : 'L'}${r(sx(p.x))},${r(sy(p.y))}`).join(''));
  return {
    paths,
    xTicks: xt.map((value) => ({ value, at: r(sx(value)) })),
    yTicks: yt.map((value) => ({ value, at: r(sy(value)) })),
  };
}

/** A tick label: short, without float noise (0.30000000000000004 -> 0.3, 0.00012 -> 1.2e-4). */
export function formatTick(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(1).replace('.0e', 'e').replace('e+', 'e');
  return String(Number(v.toPrecision(4)));
}

/**
 * An exponential moving average of a noisy curve (the training loss): each point is `weight` times the
 * previous average plus the rest of its own value, bias-corrected so the curve does not start at zero
 * (as TensorBoard's smoothing). weight 0 returns the points unchanged.
 */
export function ema(points: readonly Point[], weight = 0.8): Point[] {
  let avg = 0;
  let n = 0;
  const out: Point[] = [];
  for (const p of points) {
    if (!Number.isFinite(p.y)) continue;
    avg = weight * avg + (1 - weight) * p.y;
    n++;
    out.push({ x: p.x, y: weight === 0 ? p.y : avg / (1 - weight ** n) });
  }
  return out;
}

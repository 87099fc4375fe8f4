/**
 * The one grid (shared/sweep.ts): axes, points, bounds and labels, and a job's hyperparameters as a grid,
 * the points every part of the product numbers the same way. The CLI's flags: test/trainer/sweep/grid.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { z } from '@hono/zod-openapi';
import type { Hyperparameters } from '../../shared/job.ts';
import { type HyperparametersSchema, JobSpecSchema, SweepHyperparametersSchema } from '../../shared/job-schema.ts';
import {
  gridPoints,
  gridSize,
  isSweep,
  MAX_SWEEP_POINTS,
  pointLabel,
  pointSettings,
  SWEEP_KEYS,
  type SweepHyperparameters,
  sweepAxes,
  sweepPoints,
  sweepSettings,
  sweepSize,
} from '../../shared/sweep.ts';

test('a grid: every combination of its axes, nested in axis order (the last varies fastest)', () => {
  assert.deepEqual(gridPoints([]), [{}], 'no axis: one point, with nothing swept');
  const axes = [
    { key: 'mode', values: ['adapter', 'head'] },
    { key: 'trainLayernorms', values: [true, false] },
    { key: 'lr', values: [1e-3, 1e-4, 1e-5] },
  ] as const;
  assert.equal(gridSize(axes), 12);
  const points = gridPoints(axes);
  assert.equal(points.length, 12);
  assert.deepEqual(points[0], { mode: 'adapter', trainLayernorms: true, lr: 1e-3 });
  assert.deepEqual(points[4], { mode: 'adapter', trainLayernorms: false, lr: 1e-4 });
  assert.deepEqual(points[11], { mode: 'head', trainLayernorms: false, lr: 1e-5 });
  // The label the reduce's events, run-job's point messages and the CLI's plots show.
  assert.equal(pointLabel(points[4]), 'mode=adapter trainLayernorms=false lr=0.0001');
  assert.equal(pointLabel({}), '');
});

test("a job's axes nest in SWEEP_KEYS order whatever the request's key order", () => {
  const h = { epochs: [1, 2], mode: ['adapter', 'full'], seeds: [1, 2], lr: 1e-3 } as SweepHyperparameters;
  assert.deepEqual(
    sweepAxes(h).map((a) => a.key),
    ['mode', 'epochs'],
  );
  assert.deepEqual(sweepSettings(h), [
    { mode: 'adapter', epochs: 1 },
    { mode: 'adapter', epochs: 2 },
    { mode: 'full', epochs: 1 },
    { mode: 'full', epochs: 2 },
  ]);
  // Every key the API sweeps is a hyperparameter the schema takes as a list of values.
  for (const key of SWEEP_KEYS) assert.ok(key in SweepHyperparametersSchema.shape, key);
});

// Hyperparameters is its schema's type, and a request's sweep type is the sweep schema's (a compile-time check).
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const hyperparametersAreTheSchema: Same<Hyperparameters, z.infer<typeof HyperparametersSchema>> = true;
const sweepTypeIsTheSchema: Same<SweepHyperparameters, z.infer<typeof SweepHyperparametersSchema>> = true;
void [hyperparametersAreTheSchema, sweepTypeIsTheSchema];

test('a plain job is its own single point; listed values span every combination, nested in SWEEP_KEYS order', () => {
  const plain = { lr: 1e-3, epochs: 2 };
  assert.equal(isSweep(plain), false);
  assert.equal(sweepSize(plain), 1);
  assert.deepEqual(sweepPoints(plain), [plain]);

  // lr is listed before bottleneck in the request, but bottleneck nests outside lr (SWEEP_KEYS order).
  const grid = { lr: [1e-4, 1e-3], bottleneck: [8, 64, 256], epochs: 3, seeds: [1, 2] };
  assert.equal(isSweep(grid), true);
  assert.equal(sweepSize(grid), 6);
  const points = sweepPoints(grid);
  assert.deepEqual(
    points.map((p) => [p.bottleneck, p.lr]),
    [
      [8, 1e-4],
      [8, 1e-3],
      [64, 1e-4],
      [64, 1e-3],
      [256, 1e-4],
      [256, 1e-3],
    ],
  );
  // The rest is every point's; seeds stay a list (they are seeds, not a sweep).
  for (const p of points) assert.deepEqual([p.epochs, p.seeds], [3, [1, 2]]);
  assert.deepEqual(pointSettings(grid, 3), { bottleneck: 64, lr: 1e-3 });
  assert.throws(() => pointSettings(grid, 6), /point 6 is outside the sweep's 6 points/);
});

test('the schema bounds a sweep: values as each key allows, 2 to 16 distinct, at most MAX_SWEEP_POINTS points', () => {
  const ok = SweepHyperparametersSchema.safeParse({ lr: [1e-4, 3e-4, 1e-3], bottleneck: [8, 64, 256], epochs: [3, 20] });
  assert.ok(ok.success);
  const issues = (h: unknown) => {
    const r = SweepHyperparametersSchema.safeParse(h);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  assert.match(issues({ lr: [1e-3, 0] })[0], /^lr\.1: lr must be > 0/);
  assert.match(issues({ mode: ['adapter', 'lora'] })[0], /^mode/);
  assert.match(issues({ bottleneck: [8] })[0], /at least 2 values/);
  assert.match(issues({ bottleneck: [8, 8] })[0], /distinct/);
  assert.match(issues({ metric: ['accuracy', 'f1'] })[0], /^metric/);
  const big = { lr: [1, 2, 3, 4].map((x) => x / 10), bottleneck: [1, 2, 3], epochs: [1, 2, 3] };
  assert.equal(sweepSize(big), 36);
  assert.match(issues(big)[0], new RegExp(`spans 36 points .* over the limit of ${MAX_SWEEP_POINTS}`));
});

test('a spec with a sweep and no validation data is refused, as the API refuses the request', () => {
  const spec = {
    format: 'adapter-store.job/v1',
    jobId: 'j',
    task: 't',
    datasetUri: 's3://bucket/d.jsonl',
    baseModel: 'b',
    createdAt: new Date().toISOString(),
    hyperparameters: { lr: [1e-3, 3e-4] },
  };
  const refused = JobSpecSchema.safeParse(spec);
  assert.ok(!refused.success);
  assert.match(refused.error.issues[0].message, /a sweep picks its best point on validation data/);
  assert.ok(JobSpecSchema.safeParse({ ...spec, validationUri: 's3://bucket/v.jsonl' }).success);
  assert.ok(JobSpecSchema.safeParse({ ...spec, hyperparameters: { lr: [1e-3, 3e-4], validationSplit: 0.1 } }).success);
});

/**
 * `trainer sweep` end to end on the tiny BERT: 2 points x 1 seed write sweep.json, sweep.svg and the winner's
 * adapter; the same command again resumes without training; bad grids fail with precise errors before training.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readAdapterDir } from '../../../trainer/model-files/adapter-dir.ts';
import type { SweepResult } from '../../../trainer/sweep/sweep.ts';
import { runTrainerCliSync } from '../../support/process.ts';
import { SvgChecker } from '../../support/svg.ts';
import { TOY_JSONL, writeTinyBert } from '../../support/tiny-bert.ts';

const work = mkdtempSync(join(tmpdir(), 'trainer-sweep-'));
const base = join(work, 'base');
const data = join(work, 'train.jsonl');
let svg: SvgChecker;

const sweep = (out: string, ...args: string[]) =>
  runTrainerCliSync([
    'sweep',
    '--base',
    base,
    '--data',
    data,
    '--validation',
    data,
    '--out',
    out,
    '--batch-size',
    '8',
    '--dropout',
    '0',
    ...args,
  ]);

before(async () => {
  writeTinyBert(base);
  writeFileSync(data, TOY_JSONL);
  svg = await SvgChecker.launch();
});
after(() => svg.close());

test('2 points x 1 seed: sweep.json lists both, best/ is the better point, the plot has a mean per point', async () => {
  const out = join(work, 'two');
  const r = sweep(out, '--grid', 'lr=1e-4,3e-2', '--seeds', '1', '--epochs', '2');
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepResult;
  assert.deepEqual(
    result.points.map((p) => p.hyperparameters),
    [{ lr: 1e-4 }, { lr: 3e-2 }],
  );
  for (const p of result.points) {
    assert.equal(p.runs.length, 1);
    const run = p.runs[0];
    assert.equal(run.seed, 1);
    assert.ok(run.metrics && run.value === run.metrics.accuracy, 'the run reports its validation metrics');
    assert.ok(run.seconds !== null && run.seconds > 0);
    assert.ok(p.trainablePercent !== null && p.trainablePercent > 0 && p.trainablePercent < 100);
    // Each run is a complete adapter directory trained with the point's learning rate.
    assert.equal(readAdapterDir(join(out, run.dir)).config.task, 'train');
  }
  const values = result.points.map((p) => p.mean!);
  const winner = values[1] > values[0] ? 1 : 0; // equal means: the first listed (same trainable share, same spread)
  assert.equal(result.best?.point, winner);
  const best = readFileSync(join(out, 'best', 'adapter.safetensors'));
  assert.ok(best.equals(readFileSync(join(out, result.points[winner].runs[0].dir, 'adapter.safetensors'))), 'best/ is the winning run');
  const plot = await svg.parse(readFileSync(join(out, 'sweep.svg'), 'utf8'), ['circle.mean', 'circle.seed', 'line.spread', 'circle.best']);
  assert.equal(plot.error, null);
  assert.deepEqual(plot.counts, { 'circle.mean': 2, 'circle.seed': 2, 'line.spread': 2, 'circle.best': 1 });

  // The same command again trains nothing and reaches the same result.
  const again = sweep(out, '--grid', 'lr=1e-4,3e-2', '--seeds', '1', '--epochs', '2');
  assert.equal(again.code, 0, again.stderr);
  const events = again.stderr
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event: string; resumed?: boolean });
  assert.deepEqual(
    events.filter((e) => e.event === 'sweep-run').map((e) => e.resumed),
    [true, true],
  );
  assert.ok(!events.some((e) => e.event === 'step'), 'no training step ran');
  assert.deepEqual((JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepResult).best, result.best);

  // Another grid on the same directory is refused.
  const other = sweep(out, '--grid', 'lr=1e-3', '--seeds', '1', '--epochs', '2');
  assert.equal(other.code, 1);
  assert.match(other.stderr, /holds a sweep with another grid, seeds or options/);
});

test("grid values go through train's own option checks; a flag and a grid key for the same option conflict", () => {
  const fails = (message: RegExp, ...args: string[]) => {
    const out = join(work, `bad-${Math.random().toString(36).slice(2)}`);
    const r = sweep(out, ...args);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.ok(!existsSync(join(out, 'runs')), 'nothing was trained');
  };
  // Values go through train's own parsers: init-std must be in (0, 1].
  fails(/--grid "init-std=1e-3,2": --init-std must be in \(0, 1\], got "2"/, '--grid', 'init-std=1e-3,2');
  fails(
    /--grid "nonlinearity=gelu,sigmoid": --nonlinearity must be one of gelu, relu, swish, tanh, got "sigmoid"/,
    '--grid',
    'nonlinearity=gelu,sigmoid',
  );
  fails(/--lr and --grid lr=\.\.\.: give one of them/, '--grid', 'lr=1e-3,1e-2', '--lr', '1e-3');
});

test('the robustness sweep over init-std runs, in 2 child processes', () => {
  const out = join(work, 'init-std');
  const r = sweep(out, '--grid', 'init-std=1e-7,1', '--seeds', '1', '--max-steps', '2', '--parallel', '2');
  assert.equal(r.code, 0, r.stderr);
  const result = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8')) as SweepResult;
  assert.deepEqual(
    result.points.map((p) => [p.hyperparameters['init-std'], p.runs[0].error ?? null]),
    [
      [1e-7, null],
      [1, null],
    ],
  );
  for (const p of result.points)
    assert.equal(readAdapterDir(join(out, p.runs[0].dir)).config.adapter?.initStd, p.hyperparameters['init-std']);
  // The grid's key is initStd inside; the directory shows the flag, as sweeps written before did (so they resume).
  assert.deepEqual(
    result.points.map((p) => [p.label, p.runs[0].dir]),
    [
      ['init-std=1e-7', join('runs', 'init-std=1e-7', 'seed-1')],
      ['init-std=1', join('runs', 'init-std=1', 'seed-1')],
    ],
  );
  const plan = JSON.parse(readFileSync(join(out, 'sweep-plan.json'), 'utf8')) as { grid: unknown };
  assert.deepEqual(plan.grid, [{ key: 'init-std', values: [1e-7, 1] }]);
});

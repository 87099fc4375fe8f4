/** The sweep's own checks that need no training: they fail before anything is written. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseGrid } from '../../../trainer/sweep/grid.ts';
import { runSweep, type SweepOptions } from '../../../trainer/sweep/sweep.ts';
import { trainDefaults } from '../../../trainer/train/defaults.ts';

const out = join(mkdtempSync(join(tmpdir(), 'sweep-options-')), 'sweep');
const options = (over: Partial<SweepOptions>, train: Partial<SweepOptions['train']> = {}): SweepOptions => ({
  train: { ...trainDefaults, base: 'base', data: 'data.jsonl', validation: 'val.jsonl', device: 'cpu', ...train },
  axes: parseGrid(['lr=1e-4,1e-3'], new Map([['lr' as const, Number]])),
  seeds: [1],
  parallel: 1,
  out,
  log: () => {},
  trainLog: () => {},
  ...over,
});

test('--parallel is bounded by the cores', async () => {
  const cores = availableParallelism();
  await assert.rejects(
    runSweep(options({ parallel: cores + 1 })),
    new RegExp(`--parallel ${cores + 1}: must be between 1 and the ${cores} cores`),
  );
  assert.ok(!existsSync(out));
});

test('a sweep needs validation data to select on', async () => {
  await assert.rejects(runSweep(options({}, { validation: undefined })), /needs --validation or --validation-split/);
});

test('points x seeds over the run bound is refused', async () => {
  const seeds = Array.from({ length: 161 }, (_, i) => i);
  await assert.rejects(runSweep(options({ seeds })), /2 points x 161 seeds = 322 runs exceeds the limit of 320/);
});

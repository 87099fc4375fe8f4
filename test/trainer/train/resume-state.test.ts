/**
 * Checkpoint files: a state/tensors pair reads back as written; a state paired with another write's
 * tensors (a copy of the pair that was cut between its two files) is refused, not silently resumed.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CHECKPOINT_TENSORS,
  type CheckpointState,
  readCheckpoint,
  TornCheckpointError,
  writeCheckpoint,
} from '../../../trainer/train/resume-state.ts';
import { Rng } from '../../../trainer/util/random.ts';

const shapes = new Map([['w', [2, 2]]]);

function state(step: number): CheckpointState {
  const partial = { seed: 1, steps: [], validation: [], best: null, stoppedEarly: false, examplesPerSecond: 0, secondsPerStep: 0 };
  return {
    format: 'adapter-store.train-checkpoint/v1',
    fingerprint: 'f',
    finished: [],
    savedAt: new Date(0).toISOString(),
    position: {
      seedIndex: 0,
      epoch: 0,
      batch: step,
      step,
      optimizerStep: step,
      epochRng: new Rng(1).getState(),
      partial,
      evalsWithoutImprovement: 0,
    },
  };
}

function write(dir: string, step: number, value: number): void {
  writeCheckpoint(
    dir,
    state(step),
    { params: new Map([['w', new Float32Array(4).fill(value)]]), adamM: null, adamV: null, best: null, selected: null },
    shapes,
  );
}

test('a checkpoint pair reads back as written', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
  write(dir, 100, 0.5);
  const back = readCheckpoint(dir)!;
  assert.equal(back.state.position.step, 100);
  assert.deepEqual([...back.tensors.params.get('w')!], [0.5, 0.5, 0.5, 0.5]);
  assert.match(back.state.tensorsSha256 ?? '', /^[0-9a-f]{64}$/);
});

test("a state with another write's tensors is a TornCheckpointError", () => {
  const older = mkdtempSync(join(tmpdir(), 'ckpt-old-'));
  const newer = mkdtempSync(join(tmpdir(), 'ckpt-new-'));
  write(older, 100, 0.5);
  write(newer, 200, 0.25);
  // As an interrupted upload leaves it: step 200's tensors beside step 100's state.
  copyFileSync(join(newer, CHECKPOINT_TENSORS), join(older, CHECKPOINT_TENSORS));
  assert.throws(() => readCheckpoint(older), TornCheckpointError);
});

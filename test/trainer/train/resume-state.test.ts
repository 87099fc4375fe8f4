/**
 * Checkpoint files: each checkpoint is its own folder, named by a pointer written after it; a state/tensors
 * pair reads back as written; an older folder goes once the pointer names a newer one; a state paired with
 * another write's tensors (a copy of the pair that was cut between its two files) is refused.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { CHECKPOINT_POINTER } from '../../../shared/checkpoint-layout.ts';
import {
  CHECKPOINT_STATE,
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
    format: 'adapter-store.train-checkpoint/v2',
    fingerprint: { dataSha256: 'd', validationSha256: null, baseWeightsSha256: 'b', initAdapterSha256: null, spec: {} },
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

function write(dir: string, step: number, value: number): string {
  return writeCheckpoint(
    dir,
    state(step),
    { params: new Map([['w', new Float32Array(4).fill(value)]]), adamM: null, adamV: null, best: null, selected: null },
    shapes,
  ).folder;
}

test('a checkpoint pair reads back as written, from the folder the pointer names; the older folder goes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-'));
  assert.equal(readCheckpoint(dir), null, 'no pointer, no checkpoint');
  assert.equal(write(dir, 100, 0.5), '100');
  assert.deepEqual(readdirSync(dir).sort(), ['100', CHECKPOINT_POINTER]);
  // What a process killed mid-write leaves: a half-built folder, and a folder of a step the pointer never named.
  mkdirSync(join(dir, '.tmp-200-dead'));
  mkdirSync(join(dir, '200'));
  writeFileSync(join(dir, '200', CHECKPOINT_STATE), '{"cut": ');
  assert.equal(readCheckpoint(dir)?.state.position.step, 100, 'the pointer still names step 100');
  assert.equal(write(dir, 200, 0.25), '200');
  assert.deepEqual(readdirSync(dir).sort(), ['200', CHECKPOINT_POINTER]);
  const back = readCheckpoint(dir)!;
  assert.equal(back.folder, '200');
  assert.equal(back.state.position.step, 200);
  assert.deepEqual([...back.tensors.params.get('w')!], [0.25, 0.25, 0.25, 0.25]);
  assert.match(back.state.tensorsSha256 ?? '', /^[0-9a-f]{64}$/);
});

test('a flat state.json of an earlier version (no pointer) is a TornCheckpointError: ignored, never half-trusted', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ckpt-v1-'));
  writeFileSync(join(dir, CHECKPOINT_STATE), '{"format": "adapter-store.train-checkpoint/v1"}');
  assert.throws(() => readCheckpoint(dir), TornCheckpointError);
});

test("a state with another write's tensors is a TornCheckpointError", () => {
  const older = mkdtempSync(join(tmpdir(), 'ckpt-old-'));
  const newer = mkdtempSync(join(tmpdir(), 'ckpt-new-'));
  write(older, 100, 0.5);
  write(newer, 200, 0.25);
  // As a cut copy of the pair leaves it: step 200's tensors beside step 100's state.
  copyFileSync(join(newer, '200', CHECKPOINT_TENSORS), join(older, '100', CHECKPOINT_TENSORS));
  assert.throws(() => readCheckpoint(older), TornCheckpointError);
});

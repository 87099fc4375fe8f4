/**
 * Resumable training state: trainable parameters, optimizer moments, the best parameters so far and
 * the data position, saved every N steps. A retried job (a Spot interruption, a stopped server)
 * continues from here instead of restarting.
 *
 * Layout (shared/checkpoint-layout.ts): each checkpoint is its own folder <dir>/<step>/, written in full
 * under a temporary name and renamed; then <dir>/latest.json is moved to it; then older folders go. A
 * process killed at any moment leaves latest.json naming a complete checkpoint.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CHECKPOINT_FOLDER_RE,
  CHECKPOINT_POINTER,
  CHECKPOINT_STATE,
  CHECKPOINT_TENSORS,
  type CheckpointPointer,
  checkpointFolder,
  parseCheckpointPointer,
} from '../../shared/checkpoint-layout.ts';
import type { EvalRecord } from '../../shared/trainer-events.ts';
import { type F32Tensor, readSafetensors, toFloat32, writeSafetensors } from '../model-files/safetensors.ts';
import type { RngState } from '../util/random.ts';
import type { RunFingerprint } from './run-fingerprint.ts';

export { CHECKPOINT_STATE, CHECKPOINT_TENSORS };

export interface StepRecord {
  step: number;
  epoch: number;
  loss: number;
  lr: number;
  gradNorm: number;
}

export interface SeedResult {
  seed: number;
  steps: StepRecord[];
  validation: EvalRecord[];
  best: EvalRecord | null;
  stoppedEarly: boolean;
  examplesPerSecond: number;
  secondsPerStep: number;
}

/** Where a seed's run stands; with the tensors, enough to continue it. */
export interface RunPosition {
  seedIndex: number;
  epoch: number;
  /** Batches of `epoch` already done. */
  batch: number;
  step: number;
  optimizerStep: number;
  /** The generator's state at the start of `epoch`: the epoch's batch order is drawn again from it. */
  epochRng: RngState;
  partial: SeedResult;
  evalsWithoutImprovement: number;
}

export interface CheckpointState {
  format: 'adapter-store.train-checkpoint/v2';
  /** What determines the run: a resume continues only a run that agrees on all of it. */
  fingerprint: RunFingerprint;
  /** Seeds finished before the current one, and which of them is best so far. */
  finished: SeedResult[];
  position: RunPosition;
  savedAt: string;
  /** sha256 of the tensors file this state belongs to (copies of the pair travel separately, e.g. via S3). */
  tensorsSha256?: string;
}

/** Optimizer steps the run has done: the finished seeds' and the current one's (a checkpoint's folder name). */
export function runStep(state: Pick<CheckpointState, 'finished' | 'position'>): number {
  return state.finished.reduce((n, r) => n + r.steps.length, 0) + state.position.step;
}

/** The tensors file is not the one the state was written with (a copy of the pair was interrupted). */
export class TornCheckpointError extends Error {}

function fileSha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export interface CheckpointTensors {
  params: Map<string, Float32Array>;
  /** AdamW moments by parameter name (null for SGD). */
  adamM: Map<string, Float32Array> | null;
  adamV: Map<string, Float32Array> | null;
  /** Best parameters of the current seed so far (null without validation). */
  best: Map<string, Float32Array> | null;
  /** Best parameters over the finished seeds (null when none finished). */
  selected: Map<string, Float32Array> | null;
}

/** A written checkpoint: its folder (complete, never rewritten) and the run's step count. */
export interface WrittenCheckpoint {
  folder: string;
  path: string;
  step: number;
}

/** Writes a checkpoint folder, moves the pointer to it, then deletes the older ones. */
export function writeCheckpoint(
  dir: string,
  state: CheckpointState,
  t: CheckpointTensors,
  shapes: ReadonlyMap<string, number[]>,
): WrittenCheckpoint {
  const step = runStep(state);
  const folder = checkpointFolder(step);
  const path = join(dir, folder);
  const tensors = new Map<string, F32Tensor>();
  const put = (prefix: string, m: ReadonlyMap<string, Float32Array> | null) =>
    m?.forEach((data, name) => tensors.set(`${prefix}:${name}`, { shape: shapes.get(name)!, data }));
  put('param', t.params);
  put('best', t.best);
  put('selected', t.selected);
  put('adam.m', t.adamM);
  put('adam.v', t.adamV);
  // Built under a temporary name: a folder named <step> is always complete.
  const building = join(dir, `.tmp-${folder}-${randomBytes(4).toString('hex')}`);
  mkdirSync(building, { recursive: true });
  writeSafetensors(join(building, CHECKPOINT_TENSORS), tensors);
  writeFileSync(
    join(building, CHECKPOINT_STATE),
    JSON.stringify({ ...state, tensorsSha256: fileSha256(join(building, CHECKPOINT_TENSORS)) }),
  );
  // A folder of this step not named by the pointer is left from a run killed before it moved the pointer.
  rmSync(path, { recursive: true, force: true });
  renameSync(building, path);
  writePointer(dir, { format: 'adapter-store.checkpoint-pointer/v1', folder, step });
  removeOtherCheckpoints(dir, folder);
  return { folder, path, step };
}

/** Replaces <dir>/latest.json atomically (a rename): readers see the old pointer or the new one. */
export function writePointer(dir: string, pointer: CheckpointPointer): void {
  const tmp = join(dir, `.tmp-${CHECKPOINT_POINTER}-${randomBytes(4).toString('hex')}`);
  writeFileSync(tmp, JSON.stringify(pointer));
  renameSync(tmp, join(dir, CHECKPOINT_POINTER));
}

/** Deletes every checkpoint folder but `keep`, and what interrupted writes left (temporary folders, the flat v1 pair). */
function removeOtherCheckpoints(dir: string, keep: string): void {
  const stale = (name: string) =>
    name !== keep &&
    (CHECKPOINT_FOLDER_RE.test(name) || name.startsWith('.tmp-') || name === CHECKPOINT_STATE || name === CHECKPOINT_TENSORS);
  for (const name of readdirSync(dir)) if (stale(name)) rmSync(join(dir, name), { recursive: true, force: true });
}

/** The checkpoint the pointer in `dir` names (null when there is none), with its folder. */
export function readCheckpoint(dir: string): { state: CheckpointState; tensors: CheckpointTensors; folder: string } | null {
  const pointerPath = join(dir, CHECKPOINT_POINTER);
  if (!existsSync(pointerPath)) {
    // The flat state.json + tensors pair of earlier versions, rewritten in place: nothing says it is whole.
    if (existsSync(join(dir, CHECKPOINT_STATE)))
      throw new TornCheckpointError(`${dir}: a checkpoint of an earlier version (no ${CHECKPOINT_POINTER}), which cannot be resumed`);
    return null;
  }
  const { folder } = parseCheckpointPointer(readFileSync(pointerPath, 'utf8'), pointerPath);
  const at = join(dir, folder);
  const statePath = join(at, CHECKPOINT_STATE);
  if (!existsSync(statePath)) throw new TornCheckpointError(`${pointerPath} names ${folder}/, which has no ${CHECKPOINT_STATE}`);
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as CheckpointState;
  if (state.format !== 'adapter-store.train-checkpoint/v2') throw new Error(`${statePath}: not a training checkpoint`);
  if (
    state.tensorsSha256 !== undefined &&
    (!existsSync(join(at, CHECKPOINT_TENSORS)) || fileSha256(join(at, CHECKPOINT_TENSORS)) !== state.tensorsSha256)
  ) {
    throw new TornCheckpointError(`${at}: ${CHECKPOINT_TENSORS} is not the file ${CHECKPOINT_STATE} was written with`);
  }
  const file = readSafetensors(join(at, CHECKPOINT_TENSORS));
  const group = (prefix: string): Map<string, Float32Array> | null => {
    const m = new Map<string, Float32Array>();
    for (const [key, raw] of file.tensors)
      if (key.startsWith(`${prefix}:`)) m.set(key.slice(prefix.length + 1), Float32Array.from(toFloat32(raw, key)));
    return m.size > 0 ? m : null;
  };
  const params = group('param') ?? new Map<string, Float32Array>();
  return {
    state,
    folder,
    tensors: { params, adamM: group('adam.m'), adamV: group('adam.v'), best: group('best'), selected: group('selected') },
  };
}

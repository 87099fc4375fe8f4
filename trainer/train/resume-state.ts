/**
 * Resumable training state: trainable parameters, optimizer moments, the best parameters so far and
 * the data position, written atomically every N steps. A retried job (a Spot interruption) continues
 * from here instead of restarting.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EvalRecord } from '../../shared/trainer-events.ts';
import { type F32Tensor, readSafetensors, toFloat32, writeSafetensors } from '../model-files/safetensors.ts';
import type { RngState } from '../util/random.ts';

export const CHECKPOINT_STATE = 'state.json';
export const CHECKPOINT_TENSORS = 'tensors.safetensors';

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
  format: 'adapter-store.train-checkpoint/v1';
  /** Options that must match for a resume to make sense. */
  fingerprint: string;
  /** Seeds finished before the current one, and which of them is best so far. */
  finished: SeedResult[];
  position: RunPosition;
  savedAt: string;
  /** sha256 of the tensors file this state belongs to (copies of the pair travel separately, e.g. via S3). */
  tensorsSha256?: string;
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

export function writeCheckpoint(dir: string, state: CheckpointState, t: CheckpointTensors, shapes: ReadonlyMap<string, number[]>): void {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, F32Tensor>();
  const put = (prefix: string, m: ReadonlyMap<string, Float32Array> | null) =>
    m?.forEach((data, name) => tensors.set(`${prefix}:${name}`, { shape: shapes.get(name)!, data }));
  put('param', t.params);
  put('best', t.best);
  put('selected', t.selected);
  put('adam.m', t.adamM);
  put('adam.v', t.adamV);
  // Tensors first, state last: a state.json always describes a complete tensors file.
  writeSafetensors(join(dir, CHECKPOINT_TENSORS), tensors);
  const tmp = join(dir, `${CHECKPOINT_STATE}.tmp`);
  writeFileSync(tmp, JSON.stringify({ ...state, tensorsSha256: fileSha256(join(dir, CHECKPOINT_TENSORS)) }));
  renameSync(tmp, join(dir, CHECKPOINT_STATE));
}

export function readCheckpoint(dir: string): { state: CheckpointState; tensors: CheckpointTensors } | null {
  const statePath = join(dir, CHECKPOINT_STATE);
  if (!existsSync(statePath)) return null;
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as CheckpointState;
  if (state.format !== 'adapter-store.train-checkpoint/v1') throw new Error(`${statePath}: not a training checkpoint`);
  if (
    state.tensorsSha256 !== undefined &&
    (!existsSync(join(dir, CHECKPOINT_TENSORS)) || fileSha256(join(dir, CHECKPOINT_TENSORS)) !== state.tensorsSha256)
  ) {
    throw new TornCheckpointError(`${dir}: ${CHECKPOINT_TENSORS} is not the file ${CHECKPOINT_STATE} was written with`);
  }
  const file = readSafetensors(join(dir, CHECKPOINT_TENSORS));
  const group = (prefix: string): Map<string, Float32Array> | null => {
    const m = new Map<string, Float32Array>();
    for (const [key, raw] of file.tensors)
      if (key.startsWith(`${prefix}:`)) m.set(key.slice(prefix.length + 1), Float32Array.from(toFloat32(raw, key)));
    return m.size > 0 ? m : null;
  };
  const params = group('param') ?? new Map<string, Float32Array>();
  return { state, tensors: { params, adamM: group('adam.m'), adamV: group('adam.v'), best: group('best'), selected: group('selected') } };
}

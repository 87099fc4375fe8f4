/**
 * Resumable pretraining state: every parameter, the AdamW moments, and where the run stands (step,
 * data position, generator states, tokens and seconds so far), written atomically every N steps:
 * tensors first, then state.json naming the tensors file's sha256, so a torn pair is recognised.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type F32Tensor, readSafetensors, toFloat32, writeSafetensors } from '../model-files/safetensors.ts';
import type { RngState } from '../util/random.ts';

const STATE = 'state.json';
const TENSORS = 'tensors.safetensors';
export const PRETRAIN_CHECKPOINT_FORMAT = 'adapter-store.pretrain-checkpoint/v1';

/** One optimizer step's figures, summed over its micro-batches. */
export interface StepFigures {
  step: number;
  /** Σ loss·masked over micro-batches: the mean is lossSum / masked. */
  lossSum: number;
  correct: number;
  masked: number;
}

export interface PretrainPosition {
  step: number;
  optimizerStep: number;
  epoch: number;
  /** Sequences of this epoch's order already used. */
  cursor: number;
  /** The order generator at the start of `epoch` (the epoch's order is drawn again from it). */
  epochRng: RngState;
  maskRng: RngState;
  tokensSeen: number;
  /** Seconds spent in steps so far (what --max-minutes counts). */
  trainSeconds: number;
  /** With --max-minutes: the fraction of the budget used when warm-up ended (the decay starts there). */
  warmupEndFraction: number | null;
  /** The last steps' figures (the model card's final loss and accuracy). */
  recent: StepFigures[];
}

export interface PretrainState {
  format: typeof PRETRAIN_CHECKPOINT_FORMAT;
  fingerprint: string;
  position: PretrainPosition;
  savedAt: string;
  tensorsSha256: string;
}

export interface PretrainTensors {
  params: Map<string, Float32Array>;
  adamM: Map<string, Float32Array>;
  adamV: Map<string, Float32Array>;
}

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

export function writePretrainCheckpoint(
  dir: string,
  fingerprint: string,
  position: PretrainPosition,
  t: PretrainTensors,
  shapes: ReadonlyMap<string, number[]>,
): void {
  mkdirSync(dir, { recursive: true });
  const tensors = new Map<string, F32Tensor>();
  for (const [prefix, m] of [
    ['param', t.params],
    ['adam.m', t.adamM],
    ['adam.v', t.adamV],
  ] as const) {
    for (const [name, data] of m) tensors.set(`${prefix}:${name}`, { shape: shapes.get(name)!, data });
  }
  writeSafetensors(join(dir, TENSORS), tensors);
  const state: PretrainState = {
    format: PRETRAIN_CHECKPOINT_FORMAT,
    fingerprint,
    position,
    savedAt: new Date().toISOString(),
    tensorsSha256: sha256(join(dir, TENSORS)),
  };
  const tmp = join(dir, `${STATE}.tmp`);
  writeFileSync(tmp, JSON.stringify(state));
  renameSync(tmp, join(dir, STATE));
}

/** The checkpoint in `dir`, null when there is none, or a reason it cannot be used (torn). */
export function readPretrainCheckpoint(dir: string): { state: PretrainState; tensors: PretrainTensors } | { torn: string } | null {
  const statePath = join(dir, STATE);
  if (!existsSync(statePath)) return null;
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as PretrainState;
  if (state.format !== PRETRAIN_CHECKPOINT_FORMAT) throw new Error(`${statePath}: not a pretraining checkpoint`);
  const tensorsPath = join(dir, TENSORS);
  if (!existsSync(tensorsPath) || sha256(tensorsPath) !== state.tensorsSha256)
    return { torn: `${tensorsPath} is not the file ${STATE} was written with` };
  const file = readSafetensors(tensorsPath);
  const group = (prefix: string) => {
    const m = new Map<string, Float32Array>();
    for (const [key, raw] of file.tensors)
      if (key.startsWith(`${prefix}:`)) m.set(key.slice(prefix.length + 1), Float32Array.from(toFloat32(raw, key)));
    return m;
  };
  return { state, tensors: { params: group('param'), adamM: group('adam.m'), adamV: group('adam.v') } };
}

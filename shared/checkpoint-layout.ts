/**
 * How a training checkpoint is laid out, the same on disk (the trainer's checkpoint folder) and in the
 * registry (jobs/<id>/checkpoint/, jobs/<id>/points/<i>/checkpoint/):
 *
 *   <step>/tensors.safetensors, <step>/state.json   one complete checkpoint, never rewritten
 *   latest.json                                      the pointer: which <step>/ to resume from
 *
 * A new checkpoint's folder is written in full first, the pointer moved to it next, and only then the
 * previous folder deleted: a process killed at any moment leaves the pointer on a complete checkpoint.
 */

export const CHECKPOINT_POINTER = 'latest.json';
export const CHECKPOINT_STATE = 'state.json';
export const CHECKPOINT_TENSORS = 'tensors.safetensors';
/** The files of one checkpoint folder, in the order they are written (the state names the tensors' sha256). */
export const CHECKPOINT_FILES = [CHECKPOINT_TENSORS, CHECKPOINT_STATE] as const;

export interface CheckpointPointer {
  format: 'adapter-store.checkpoint-pointer/v1';
  /** The folder of the checkpoint to resume from. */
  folder: string;
  /** Optimizer steps done by the run when it was written (every seed's, so it only grows). */
  step: number;
}

/** A checkpoint folder's name: the run's step count, digits only (so a pointer can name nothing else). */
export const CHECKPOINT_FOLDER_RE = /^\d{1,12}$/;

export function checkpointFolder(step: number): string {
  if (!Number.isSafeInteger(step) || step < 0) throw new Error(`checkpoint step ${step} is not a step count`);
  return String(step);
}

/** The pointer as written, or an error naming what is wrong with it (it chooses which files are read). */
export function parseCheckpointPointer(text: string, where: string): CheckpointPointer {
  let p: Partial<CheckpointPointer>;
  try {
    p = JSON.parse(text) as Partial<CheckpointPointer>;
  } catch {
    throw new Error(`${where}: not JSON`);
  }
  if (p.format !== 'adapter-store.checkpoint-pointer/v1' || typeof p.folder !== 'string' || !CHECKPOINT_FOLDER_RE.test(p.folder))
    throw new Error(`${where}: not a checkpoint pointer`);
  return { format: p.format, folder: p.folder, step: Number(p.step) };
}

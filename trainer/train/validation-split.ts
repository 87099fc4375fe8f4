/**
 * A deterministic validation split of the training rows (--validation-split): the same seed gives the
 * same split on every run and platform. With a numeric seed it is exactly the split the trainer has
 * always made: Fisher–Yates over the row indices with trainer/util/random.ts's Rng, the first
 * max(1, round(n·fraction)) shuffled indices held out (at most `maxHeld`); both sides keep file order.
 */

import { DataError } from '../../shared/training-data/errors.ts';
import { Rng } from '../util/random.ts';
import type { ShuffleRng } from './batching.ts';

export function splitValidation<T>(
  rows: readonly T[],
  fraction: number,
  seed: number | ShuffleRng,
  /** Hold out at most this many (a job's evaluation cap); the rest train. */
  maxHeld = Number.POSITIVE_INFINITY,
): { train: T[]; validation: T[] } {
  if (typeof fraction !== 'number' || !(fraction > 0 && fraction < 1))
    throw new DataError(`--validation-split must be in (0, 1), got ${fraction}`);
  if (rows.length < 2) throw new DataError(`--validation-split needs at least 2 rows to split, got ${rows.length}`);
  const rng = typeof seed === 'number' ? new Rng(seed) : seed;
  const order = rng.shuffle(Array.from({ length: rows.length }, (_, i) => i));
  const held = Math.min(maxHeld, Math.max(1, Math.round(rows.length * fraction)));
  if (held >= rows.length) throw new DataError(`--validation-split ${fraction} leaves no training rows out of ${rows.length}`);
  const isHeld = new Uint8Array(rows.length);
  for (let i = 0; i < held; i++) isHeld[order[i]] = 1;
  const train: T[] = [];
  const validation: T[] = [];
  for (let i = 0; i < rows.length; i++) (isHeld[i] ? validation : train).push(rows[i]);
  return { train, validation };
}

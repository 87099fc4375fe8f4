/** What a resume checks against the run that wrote the checkpoint: the options that must agree (as JSON or as a hash). */
import { createHash } from 'node:crypto';

/**
 * SHA-256 of `{ rest, ...context }` as JSON, where `rest` is `options` without the keys a resumed run
 * may change (logging, threads, where checkpoints go...). The key order is the options' own, so the
 * same options always give the same hash.
 */
export function runFingerprint<T extends object>(options: T, mayDiffer: readonly (keyof T)[], context: Record<string, unknown>): string {
  return createHash('sha256')
    .update(JSON.stringify({ rest: specOf(options, mayDiffer), ...context }))
    .digest('hex');
}

/** `options` without the keys a resumed run may change, as plain JSON (functions and undefined dropped). */
export function specOf<T extends object>(options: T, mayDiffer: readonly (keyof T)[]): Record<string, unknown> {
  const kept = Object.fromEntries(Object.entries(options).filter(([key]) => !mayDiffer.includes(key as keyof T)));
  return JSON.parse(JSON.stringify(kept)) as Record<string, unknown>;
}

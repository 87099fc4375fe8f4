/** What a resume checks against the run that wrote the checkpoint: a hash of the options that must agree. */
import { createHash } from 'node:crypto';

/**
 * SHA-256 of `{ rest, ...context }` as JSON, where `rest` is `options` without the keys a resumed run
 * may change (logging, threads, where checkpoints go...). The key order is the options' own, so the
 * same options always give the same hash.
 */
export function runFingerprint<T extends object>(options: T, mayDiffer: readonly (keyof T)[], context: Record<string, unknown>): string {
  const rest = Object.fromEntries(Object.entries(options).filter(([key]) => !mayDiffer.includes(key as keyof T)));
  return createHash('sha256')
    .update(JSON.stringify({ rest, ...context }))
    .digest('hex');
}

/**
 * What a resume checks against the run that wrote a checkpoint: the content that determines the run
 * (the rows it trains and validates on, the base's and a warm start's weights) and its training spec
 * (every option that changes the numbers, seeds included). Never a path: a job's files live in a
 * temporary folder that is new on every start, and a moved dataset is still the same dataset.
 */
import { createHash } from 'node:crypto';
import type { TokenizedRow } from '../../shared/training-data/index.ts';
import type { F32Tensor } from '../model-files/safetensors.ts';

export interface RunFingerprint {
  /** sha256 of the training rows as read and split (token ids, token type ids, label; in order). */
  dataSha256: string;
  /** The same of the validation rows (a file's, or the split's); null without validation. */
  validationSha256: string | null;
  /** sha256 of the base's model.safetensors. */
  baseWeightsSha256: string;
  /** sha256 of a warm start's tensors (--init-adapter); null without one. */
  initAdapterSha256: string | null;
  /** The training options that change the numbers, as JSON (no paths, no logging, threads or device). */
  spec: Record<string, unknown>;
}

export function rowsSha256(rows: readonly TokenizedRow[]): string {
  const h = createHash('sha256');
  for (const r of rows) {
    h.update(Int32Array.of(r.inputIds.length, r.tokenTypeIds.length));
    h.update(r.inputIds);
    h.update(r.tokenTypeIds);
    h.update(JSON.stringify(r.label));
  }
  return h.digest('hex');
}

export function tensorsSha256(tensors: ReadonlyMap<string, F32Tensor>): string {
  const h = createHash('sha256');
  for (const name of [...tensors.keys()].sort()) {
    const t = tensors.get(name)!;
    h.update(JSON.stringify([name, t.shape]));
    h.update(t.data);
  }
  return h.digest('hex');
}

/** The fields where two fingerprints disagree (`spec.<option>` for an option), empty when they agree. */
export function fingerprintDifferences(saved: RunFingerprint, now: RunFingerprint): string[] {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  const fields = (['dataSha256', 'validationSha256', 'baseWeightsSha256', 'initAdapterSha256'] as const).filter(
    (k) => !same(saved[k], now[k]),
  );
  const specSaved = saved.spec ?? {};
  const options = [...new Set([...Object.keys(specSaved), ...Object.keys(now.spec)])]
    .filter((k) => !same(specSaved[k], now.spec[k]))
    .map((k) => `spec.${k}`);
  return [...fields, ...options];
}

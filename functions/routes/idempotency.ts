/**
 * Idempotency-Key requests: the record a claim holds, and the request hash that tells a retry (same
 * body) from a reuse (another body). The claims themselves are registry objects (shared/registry/idempotency.ts).
 */
import { createHash } from 'node:crypto';

export interface IdempotencyRecord {
  jobId: string;
  /** sha256 of the canonical request body: a retry must send the same request. */
  requestSha256: string;
  createdAt: string;
}

/** JSON with sorted keys, so equal requests hash equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

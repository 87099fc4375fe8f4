/**
 * What the API keeps beside a job (the launcher's handle, idempotency claims) goes through the
 * registry, which owns the layout; here are the request-side helpers around it.
 */
import { createHash } from 'node:crypto';
import type { Registry } from '../../shared/registry.ts';
import type { LaunchedJob } from '../jobs/launcher.ts';

export interface IdempotencyRecord {
  jobId: string;
  /** sha256 of the canonical request body: a retry must send the same request. */
  requestSha256: string;
  createdAt: string;
}

export const getLaunch = (registry: Registry, jobId: string): Promise<LaunchedJob | null> => registry.getJobLaunch<LaunchedJob>(jobId);

export const putLaunch = (registry: Registry, launched: LaunchedJob): Promise<void> => registry.putJobLaunch(launched.jobId, launched);

/** Claims an idempotency key for a new job; returns the existing record when the key was already used. */
export const claimIdempotencyKey = (registry: Registry, key: string, record: IdempotencyRecord): Promise<IdempotencyRecord | null> =>
  registry.claimIdempotencyKey(key, record);

export const releaseIdempotencyKey = (registry: Registry, key: string): Promise<void> => registry.releaseIdempotencyKey(key);

/** JSON with sorted keys, so equal requests hash equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export const sha256Hex = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

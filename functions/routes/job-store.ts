/**
 * What the API keeps beside a job that the registry does not model (yet): the launcher's handle
 * (`jobs/<id>/launch.json`) and idempotency records (`idempotency/<sha256(key)>.json`). Plain JSON
 * through the registry's own client and key layout; the lead may move this into shared/registry.ts.
 */
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3ServiceException } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { Registry } from '../../shared/registry.ts';
import type { LaunchedJob } from '../jobs/launcher.ts';

export interface IdempotencyRecord {
  jobId: string;
  /** sha256 of the canonical request body: a retry must send the same request. */
  requestSha256: string;
  createdAt: string;
}

function httpStatus(err: unknown): number | undefined {
  return err instanceof S3ServiceException ? err.$metadata.httpStatusCode : undefined;
}

export async function getJson<T>(registry: Registry, key: string): Promise<T | null> {
  try {
    const out = await registry.s3.send(new GetObjectCommand({ Bucket: registry.location.bucket, Key: key }));
    return JSON.parse(await out.Body!.transformToString('utf8')) as T;
  } catch (err) {
    if (httpStatus(err) === 404) return null;
    throw err;
  }
}

/** Writes `value`; with `ifAbsent`, only when the key does not exist yet (returns false if it did). */
export async function putJson(registry: Registry, key: string, value: unknown, opts: { ifAbsent?: boolean } = {}): Promise<boolean> {
  try {
    await registry.s3.send(
      new PutObjectCommand({
        Bucket: registry.location.bucket,
        Key: key,
        Body: JSON.stringify(value, null, 2),
        ContentType: 'application/json',
        IfNoneMatch: opts.ifAbsent ? '*' : undefined,
      }),
    );
    return true;
  } catch (err) {
    const code = httpStatus(err);
    if (opts.ifAbsent && (code === 412 || code === 409)) return false;
    throw err;
  }
}

export const launchKey = (registry: Registry, jobId: string): string => registry.key('jobs', jobId, 'launch.json');

export const getLaunch = (registry: Registry, jobId: string): Promise<LaunchedJob | null> => getJson<LaunchedJob>(registry, launchKey(registry, jobId));

export const putLaunch = (registry: Registry, launched: LaunchedJob): Promise<boolean> => putJson(registry, launchKey(registry, launched.jobId), launched);

const idempotencyKey = (registry: Registry, key: string): string => registry.key('idempotency', `${createHash('sha256').update(key, 'utf8').digest('hex')}.json`);

/** Claims an idempotency key for a new job; returns the existing record when the key was already used. */
export async function claimIdempotencyKey(registry: Registry, key: string, record: IdempotencyRecord): Promise<IdempotencyRecord | null> {
  const k = idempotencyKey(registry, key);
  if (await putJson(registry, k, record, { ifAbsent: true })) return null;
  return getJson<IdempotencyRecord>(registry, k);
}

/** Releases a claim whose job could not be created, so a retry can try again. */
export async function releaseIdempotencyKey(registry: Registry, key: string): Promise<void> {
  await registry.s3.send(new DeleteObjectCommand({ Bucket: registry.location.bucket, Key: idempotencyKey(registry, key) }));
}

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

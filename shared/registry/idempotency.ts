/**
 * Idempotency-Key claims (idempotency/<sha256 of the key>.json): the job a key created, claimed with a
 * conditional write so that of several requests with one key exactly one creates the job.
 */
import { createHash } from 'node:crypto';
import { ObjectStoreError, readAll } from '../object-store.ts';
import { RegistryError } from './error.ts';
import { type RegistryObjects, registryError } from './objects.ts';

export class IdempotencyStore {
  constructor(private readonly objects: RegistryObjects) {}

  private claimKey(key: string): string {
    return this.objects.layout.idempotencyClaim(createHash('sha256').update(key, 'utf8').digest('hex'));
  }

  /** Claims an idempotency key with a conditional write: null when claimed now, else the earlier claim's record. */
  async claim<T>(key: string, record: T): Promise<T | null> {
    try {
      await this.objects.putJson(this.claimKey(key), record, { ifNoneMatch: true });
      return null;
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'conflict') return this.objects.getJson<T>(this.claimKey(key));
      throw err;
    }
  }

  /** Releases a claim whose job could not be created, so a retry can try again. */
  async release(key: string): Promise<void> {
    await this.objects.delete(this.claimKey(key));
  }

  /**
   * Replaces the claim for `key` with `record`, only if it is still `expected` (a claim whose request died
   * before creating its job): compare-and-swap on its ETag with If-Match, so of several requests taking
   * over one stale claim exactly one wins. True when replaced.
   */
  async replace<T>(key: string, expected: T, record: T): Promise<boolean> {
    const objectKey = this.claimKey(key);
    const store = this.objects.store;
    try {
      const body = await store.get(objectKey);
      if (!body) return false;
      const current: unknown = JSON.parse((await readAll(body)).toString('utf8'));
      if (JSON.stringify(current) !== JSON.stringify(expected)) return false;
      await store.put(objectKey, JSON.stringify(record, null, 2), { ifMatch: body.etag, contentType: 'application/json' });
      return true;
    } catch (err) {
      if (err instanceof ObjectStoreError && err.code === 'conflict') return false;
      throw registryError(err);
    }
  }
}

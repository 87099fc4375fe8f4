/**
 * An object store that counts the calls made to another (a real one: the local FileObjectStore in the
 * tests), so a test can say how many listings and reads a registry operation costs.
 */
import type { Readable } from 'node:stream';
import type { ListOptions, ListPage, ObjectBody, ObjectStore, PutOptions } from '../../shared/object-store.ts';

export class CountingStore implements ObjectStore {
  readonly calls = { listPage: 0, get: 0, put: 0, delete: 0 };
  /** Makes the next listPage fail (a store outage), once. */
  failNextListing = false;

  constructor(readonly inner: ObjectStore) {}

  get bucket(): string {
    return this.inner.bucket;
  }

  get uri(): string {
    return this.inner.uri;
  }

  /** The calls so far, as a copy to compare with later. */
  snapshot(): CountingStore['calls'] {
    return { ...this.calls };
  }

  put(key: string, body: Buffer | string | Readable, o?: PutOptions): Promise<void> {
    this.calls.put++;
    return this.inner.put(key, body, o);
  }

  get(key: string): Promise<ObjectBody | null> {
    this.calls.get++;
    return this.inner.get(key);
  }

  listPage(o: ListOptions): Promise<ListPage> {
    this.calls.listPage++;
    if (this.failNextListing) {
      this.failNextListing = false;
      return Promise.reject(new Error('the store is down'));
    }
    return this.inner.listPage(o);
  }

  delete(key: string): Promise<void> {
    this.calls.delete++;
    return this.inner.delete(key);
  }

  objectState(bucket: string, key: string): Promise<'exists' | 'missing' | 'forbidden'> {
    return this.inner.objectState(bucket, key);
  }

  readableUri(bucket: string, key: string): string {
    return this.inner.readableUri(bucket, key);
  }
}

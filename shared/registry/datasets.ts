/**
 * Datasets: uploads through POST /datasets (datasets/<sha256[:16]>/<name>, content-addressed), uploads a
 * client PUTs itself (datasets/uploads/<id>/<name>), and how the trainer opens a job's dataset URI.
 */
import type { Readable } from 'node:stream';
import { RegistryError } from './error.ts';
import type { RegistryObjects } from './objects.ts';

export class DatasetStore {
  constructor(private readonly objects: RegistryObjects) {}

  /**
   * Stores an uploaded dataset at datasets/<first 16 hex of its sha256>/<name>: content-addressed, so
   * the object is immutable and uploading the same bytes again lands on the same key. Returns its URI.
   */
  async put(name: string, sha256: string, body: Buffer): Promise<string> {
    const key = this.objects.layout.dataset(sha256, name);
    try {
      await this.objects.put(key, body, { ifNoneMatch: true, length: body.length });
    } catch (err) {
      // The same name and content hash: these bytes are already stored.
      if (!(err instanceof RegistryError && err.code === 'conflict')) throw err;
    }
    return this.objects.uriOf(key);
  }

  /** Where a client uploads a dataset itself (a presigned PUT): datasets/uploads/<unique id>/<name>. */
  newUploadKey(name: string, now = new Date()): string {
    return this.objects.layout.datasetUpload(name, now);
  }

  /**
   * Stores the body of a signed upload at a key newUploadKey made, once (the local server's stand-in
   * for a presigned S3 PUT): exactly `bytes` bytes, or nothing. Returns its URI.
   */
  async putUpload(key: string, body: Readable, bytes: number): Promise<string> {
    await this.objects.put(this.objects.layout.checkDatasetUpload(key), body, { ifNoneMatch: true, length: bytes });
    return this.objects.uriOf(key);
  }

  /**
   * What the trainer's dataset reader should open for a job's dataset URI: the URI itself, except that
   * the objects of a local registry are opened as the files they are.
   */
  readableUri(uri: string): string {
    const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
    return m ? this.objects.store.readableUri(m[1], m[2]) : uri;
  }
}

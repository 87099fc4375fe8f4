/** Where a registry is: an s3:// URI (bucket and key prefix), or npm start's local store directory. */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RegistryError } from './error.ts';
import { BUCKET_RE } from './layout.ts';
import type { RegistryLocation } from './objects.ts';

/** `s3://bucket` or `s3://bucket/some/prefix`. */
export function parseRegistryUri(uri: string): RegistryLocation {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(uri);
  if (!m || !BUCKET_RE.test(m[1]))
    throw new RegistryError(`registry "${uri}" must look like s3://bucket, s3://bucket/prefix or file:///directory`, 'invalid');
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  return { bucket: m[1], prefix: prefix ? `${prefix}/` : '' };
}

/** The registry's directory inside a local store (npm start's): its name is the bucket of its s3:// URIs. */
export const LOCAL_REGISTRY_FOLDER = 'adapter-store';

/** The local server's store: $ADAPTER_STORE_DIR, else `.adapter-store` in the working directory. */
export function localStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.ADAPTER_STORE_DIR || '.adapter-store');
}

/** The file:// URI of the registry inside a local store. */
export function localRegistryUri(storeDir: string): string {
  return pathToFileURL(join(storeDir, LOCAL_REGISTRY_FOLDER)).href;
}

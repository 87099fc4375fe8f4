/**
 * The registry's tests run the same cases over both object stores: S3 (a test server, under a key prefix)
 * and a local directory. `forEachStore` opens each once, in its own describe block.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Registry } from '../../shared/registry/index.ts';
import { type S3TestServer, startS3Server } from './s3-server.ts';

export interface StoreUnderTest {
  registry: Registry;
  /** The registry's key prefix ('' or ending in '/'). */
  p: string;
}

export function forEachStore(cases: (get: () => StoreUnderTest) => void): void {
  let s3: S3TestServer | undefined;
  after(async () => {
    await s3?.stop();
  });
  const stores: [string, () => Promise<Registry>][] = [
    [
      'on S3, under a key prefix',
      async () => {
        s3 = await startS3Server();
        await s3.createBucket('registry');
        return Registry.fromUri('s3://registry/store', s3.client);
      },
    ],
    ['in a local directory', async () => Registry.fromUri(pathToFileURL(join(mkdtempSync(join(tmpdir(), 'registry-')), 'registry')).href)],
  ];
  for (const [name, open] of stores) {
    describe(name, () => {
      const current: Partial<StoreUnderTest> = {};
      before(async () => {
        current.registry = await open();
        current.p = current.registry.prefix;
      });
      cases(() => current as StoreUnderTest);
    });
  }
}

/** Manifest fields of a test adapter on a base "big-model" (task and job id added by the caller). */
export const ADAPTER_META = {
  jobId: null,
  baseModel: { name: 'big-model', weightsSha256: 'ab'.repeat(32) },
  mode: 'adapter' as const,
  labels: ['a', 'b'],
  parameters: { trainable: 1, total: 2 },
  metrics: null,
};

/** An adapter directory holding the files every version holds, `bytes` of random weights. */
export function adapterDir(bytes: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'registry-adapter-'));
  writeFileSync(join(dir, 'adapter.safetensors'), randomBytes(bytes));
  writeFileSync(join(dir, 'adapter_config.json'), '{}');
  writeFileSync(join(dir, 'metrics.json'), '{}');
  return dir;
}

/**
 * Base models over both stores: weights over the multipart threshold go up (in parts on S3, where the test
 * server refuses single requests over 11 MiB) and come back byte for byte; a base exists only once its
 * weights are up, so an interrupted upload can be retried and a complete one is never replaced.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readAll } from '../../../shared/object-store.ts';
import { MULTIPART_THRESHOLD, RegistryError } from '../../../shared/registry/index.ts';
import { forEachStore } from '../../support/registry-stores.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

forEachStore((get) => {
  test('a base model larger than one request goes up in parts and downloads identical', async () => {
    const { registry, p } = get();
    const dir = mkdtempSync(join(tmpdir(), 'registry-'));
    const weights = randomBytes(MULTIPART_THRESHOLD + 5 * 1024 * 1024 + 3); // > 11 MiB: one PUT would be refused
    writeFileSync(join(dir, 'model.safetensors'), weights);
    writeFileSync(join(dir, 'config.json'), '{}');
    await registry.models.upload('big-model', dir, ['config.json', 'model.safetensors']);
    const listed = await registry.list(`${p}models/big-model/`);
    assert.deepEqual(
      listed.keys.map((k) => [k.key, k.size]),
      [
        [`${p}models/big-model/config.json`, 2],
        [`${p}models/big-model/model.safetensors`, weights.length],
      ],
    );
    const out = mkdtempSync(join(tmpdir(), 'registry-out-'));
    await registry.models.download('big-model', out);
    assert.equal(sha(readFileSync(join(out, 'model.safetensors'))), sha(weights));
    assert.deepEqual(
      (await registry.models.list()).find((m) => m.name === 'big-model'),
      { name: 'big-model', weightsBytes: weights.length, files: ['config.json', 'model.safetensors'] },
    );
    assert.equal(await registry.models.weightsBytes('big-model'), weights.length);
    assert.equal(registry.models.uri('big-model'), `s3://registry/${p}models/big-model/`);
    assert.equal(registry.models.fileKey('big-model', 'config.json'), `${p}models/big-model/config.json`);
    const config = await registry.models.openFile('big-model', 'config.json');
    assert.equal((await readAll(config!)).toString(), '{}');
    assert.equal(await registry.models.openFile('big-model', 'vocab.txt'), null);
  });

  test('a base model exists only once its weights are up: an interrupted upload can be retried, a complete one never replaced', async () => {
    const { registry } = get();
    const dir = mkdtempSync(join(tmpdir(), 'registry-partial-'));
    writeFileSync(join(dir, 'config.json'), '{}');
    writeFileSync(join(dir, 'vocab.txt'), '[PAD]\n');
    // The weights file is missing: the upload fails after the other files went up.
    await assert.rejects(registry.models.upload('partial', dir, ['config.json', 'vocab.txt', 'model.safetensors']));
    assert.equal(await registry.models.exists('partial'), false, 'no weights, no model');
    assert.ok(!(await registry.models.list()).some((m) => m.name === 'partial'));
    writeFileSync(join(dir, 'model.safetensors'), 'weights');
    await registry.models.upload('partial', dir, ['config.json', 'vocab.txt', 'model.safetensors']);
    assert.equal(await registry.models.exists('partial'), true);
    await assert.rejects(
      registry.models.upload('partial', dir, ['config.json', 'vocab.txt', 'model.safetensors']),
      (e: unknown) => e instanceof RegistryError && e.code === 'conflict',
    );
    await assert.rejects(
      registry.models.upload('no-weights', dir, ['config.json']),
      (e: unknown) =>
        e instanceof RegistryError && e.code === 'invalid' && e.message === 'base model "no-weights": model.safetensors is required',
    );
  });
});

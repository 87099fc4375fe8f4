/**
 * `trainer upload-base`: a base model directory is checked (config, weights, tokenizer) before any
 * upload, lands under models/<name>/ byte for byte, and is never replaced.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Registry } from '../../shared/registry/index.ts';
import { writeRandomBert } from '../../trainer/model-files/random-bert.ts';
import { runTrainerCli } from '../support/process.ts';
import { type S3TestServer, startS3Server } from '../support/s3-server.ts';

let s3: S3TestServer;
let registry: Registry;
const work = mkdtempSync(join(tmpdir(), 'upload-base-'));

before(async () => {
  s3 = await startS3Server();
  await s3.createBucket('registry');
  registry = Registry.fromUri('s3://registry', s3.client);
});

after(async () => {
  await s3?.stop();
});

/** The CLI against this test's S3 server (asynchronously: the server runs on this process's event loop). */
const cli = (...args: string[]) => runTrainerCli(args, s3.env);

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

test('a checked base model is uploaded under models/<name>/ and downloads identical; it is never replaced', async () => {
  const dir = join(work, 'base');
  writeRandomBert(dir, {
    hiddenSize: 16,
    numLayers: 1,
    numHeads: 2,
    intermediateSize: 32,
    maxPositions: 32,
    vocabFile: join('assets', 'bert-base-uncased', 'vocab.txt'),
    seed: 1,
  });
  const r = await cli('upload-base', '--dir', dir, '--name', 'my-bert', '--registry', 's3://registry');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { files: string[]; weightsSha256: string; layers: number };
  assert.deepEqual(out.files, ['config.json', 'model.safetensors', 'vocab.txt']);
  assert.equal(out.weightsSha256, sha(join(dir, 'model.safetensors')));
  assert.equal(out.layers, 1);
  const back = join(work, 'back');
  await registry.models.download('my-bert', back);
  for (const f of out.files) assert.equal(sha(join(back, f)), sha(join(dir, f)), f);

  const again = await cli('upload-base', '--dir', dir, '--name', 'my-bert', '--registry', 's3://registry');
  assert.notEqual(again.code, 0);
  assert.match(again.stderr, /already exists/);
});

test('a directory that is not a usable base model is refused before anything is uploaded', async () => {
  const noVocab = join(work, 'no-vocab');
  writeRandomBert(noVocab, { hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, maxPositions: 32, vocabSize: 50, seed: 1 });
  rmSync(join(noVocab, 'vocab.txt'), { force: true });
  const badConfig = join(work, 'bad-config');
  writeRandomBert(badConfig, { hiddenSize: 16, numLayers: 1, numHeads: 2, intermediateSize: 32, maxPositions: 32, vocabSize: 50, seed: 1 });
  writeFileSync(join(badConfig, 'config.json'), '{"hidden_size": "big"}');
  const cases: [string, string, RegExp][] = [
    ['missing', join(work, 'nope'), /not found/],
    ['no-vocab', noVocab, /no vocab\.txt or tokenizer\.json/],
    ['bad-config', badConfig, /config\.json/],
  ];
  for (const [name, dir, message] of cases) {
    const r = await cli('upload-base', '--dir', dir, '--name', name, '--registry', 's3://registry');
    assert.notEqual(r.code, 0, name);
    assert.match(r.stderr, message, name);
    assert.equal(await registry.models.exists(name), false, `${name}: nothing uploaded`);
  }
});

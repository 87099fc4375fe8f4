/**
 * GET /models/:name/files/:file: a base's files byte for byte, with a strong ETag (304 on If-None-Match)
 * and immutable private caching; problem+json 404 for an unknown base, a file the base lacks and a name
 * that is no base file; 401 without a key; a redirect on AWS; in the OpenAPI document.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { createApp } from '../../../functions/app.ts';
import { writeRandomDistilbert } from '../../../trainer/model-files/random-distilbert.ts';
import { writeRandomRoberta } from '../../../trainer/model-files/random-roberta.ts';
import { idleLauncher } from '../../support/idle-launcher.ts';
import { type ServingStore, servingStore } from '../../support/serving-store.ts';

const KEY = 'models-key';
let store: ServingStore;
let app: OpenAPIHono;

const launcher = idleLauncher;

const makeApp = (downloads: 'stream' | 'redirect') =>
  createApp({
    registry: store.registry,
    launcher,
    apiKeys: [KEY],
    allowedDatasetBuckets: ['store'],
    defaultBaseModel: 'tiny',
    downloads,
    signDownloadUrl: async (key) => `https://signed.example/${key}?sig=1`,
    log: () => {},
  });

before(async () => {
  store = await servingStore('models-route-');
  app = makeApp('stream');
});
after(() => rmSync(store.root, { recursive: true, force: true }));

const get = (path: string, headers: Record<string, string> = {}, a = app, method = 'GET') =>
  Promise.resolve(a.request(path, { method, headers: { authorization: `Bearer ${KEY}`, ...headers } }));

test('each file of a base, byte for byte, with its type, length, strong ETag and immutable caching', async () => {
  for (const [file, type] of [
    ['model.safetensors', 'application/octet-stream'],
    ['config.json', 'application/json'],
    ['vocab.txt', 'text/plain; charset=utf-8'],
  ] as const) {
    const res = await get(`/models/tiny/files/${file}`);
    assert.equal(res.status, 200, file);
    const body = new Uint8Array(await res.arrayBuffer());
    assert.deepEqual(body, new Uint8Array(readFileSync(join(store.baseDir, file))), file);
    assert.equal(res.headers.get('content-type'), type);
    assert.equal(res.headers.get('content-length'), String(body.byteLength));
    assert.equal(res.headers.get('cache-control'), 'private, max-age=31536000, immutable');
    const etag = res.headers.get('etag');
    assert.match(etag ?? '', /^"[^"]+"$/, 'a strong validator');
    const again = await get(`/models/tiny/files/${file}`, { 'if-none-match': etag! });
    assert.equal(again.status, 304);
    assert.equal(again.headers.get('etag'), etag);
    assert.equal((await again.arrayBuffer()).byteLength, 0);
  }
  const head = await get('/models/tiny/files/model.safetensors', {}, app, 'HEAD');
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('content-length'), String(readFileSync(join(store.baseDir, 'model.safetensors')).byteLength));
});

test('problem+json 404 for an unknown base, a file the base lacks and a name that is no base file; 400 for a bad name; 401 without a key', async () => {
  const cases: [string, number, string][] = [
    ['/models/nope/files/config.json', 404, 'name'],
    ['/models/tiny/files/tokenizer.json', 404, 'file'],
    ['/models/tiny/files/secrets.env', 404, 'file'],
    ['/models/Bad..Name/files/config.json', 400, 'name'],
  ];
  for (const [path, status, field] of cases) {
    const res = await get(path);
    assert.equal(res.status, status, path);
    assert.equal(res.headers.get('content-type'), 'application/problem+json', path);
    const p = (await res.json()) as { detail: string; 'invalid-params'?: { name: string }[] };
    assert.ok(
      p['invalid-params']?.some((x) => x.name === field),
      `${path}: names ${field}: ${JSON.stringify(p)}`,
    );
  }
  const res = await Promise.resolve(app.request('/models/tiny/files/config.json'));
  assert.equal(res.status, 401);
});

test('on AWS (redirect downloads) a short-lived signed URL for the registry key, never cached', async () => {
  const res = await get('/models/tiny/files/model.safetensors', {}, makeApp('redirect'));
  assert.equal(res.status, 302);
  assert.equal(res.headers.get('location'), `https://signed.example/${store.registry.models.fileKey('tiny', 'model.safetensors')}?sig=1`);
  assert.equal(res.headers.get('cache-control'), 'no-store');
});

test('the route is in the OpenAPI document', async () => {
  const doc = (await (await get('/openapi.json')).json()) as { paths: Record<string, { get?: { responses: Record<string, unknown> } }> };
  const op = doc.paths['/models/{name}/files/{file}']?.get;
  assert.ok(op, 'documented');
  for (const s of ['200', '304', '401', '404']) assert.ok(op.responses[s], s);
});

test('GET /models lists the bases with their shape and marks the default; a half-uploaded base is not listed; 401 without a key', async () => {
  // A second base and one with no weights yet (an interrupted upload): only complete bases are listed.
  await store.registry.models.upload('tiny-b', store.baseDir, ['config.json', 'model.safetensors', 'vocab.txt']);
  mkdirSync(join(store.root, 'store', 'models', 'half'), { recursive: true });
  copyFileSync(join(store.baseDir, 'config.json'), join(store.root, 'store', 'models', 'half', 'config.json'));
  const res = await get('/models');
  assert.equal(res.status, 200);
  const body = (await res.json()) as {
    object: string;
    data: { name: string; default: boolean; weightsBytes: number; layers: number | null; hiddenSize: number | null }[];
  };
  assert.equal(body.object, 'list');
  assert.deepEqual(
    body.data.map((m) => [m.name, m.default]),
    [
      ['tiny', true],
      ['tiny-b', false],
    ],
  );
  const config = JSON.parse(readFileSync(join(store.baseDir, 'config.json'), 'utf8')) as { num_hidden_layers: number; hidden_size: number };
  assert.equal(body.data[0].layers, config.num_hidden_layers);
  assert.equal(body.data[0].hiddenSize, config.hidden_size);
  assert.equal(body.data[0].weightsBytes, readFileSync(join(store.baseDir, 'model.safetensors')).length);
  // The files it holds, so a reader (the browser runtime) asks for no file the base lacks.
  assert.deepEqual((body.data[1] as unknown as { files: string[] }).files, ['config.json', 'model.safetensors', 'vocab.txt']);
  assert.equal((await app.request('/models')).status, 401);
  const doc = (await (await get('/openapi.json')).json()) as { paths: Record<string, { get?: { responses: Record<string, unknown> } }> };
  const op = doc.paths['/models']?.get;
  assert.ok(op?.responses['200'] && op.responses['401'], 'GET /models is documented with its 200 and 401');
});

test("GET /models reads each family's config as the trainer does: DistilBERT's field names, RoBERTa's position offset", async () => {
  const dirs = mkdtempSync(join(tmpdir(), 'models-families-'));
  try {
    const distil = join(dirs, 'distil');
    writeRandomDistilbert(distil, { dim: 16, numLayers: 3, numHeads: 2, hiddenDim: 32, vocabSize: 40, maxPositions: 24, seed: 1 });
    const roberta = join(dirs, 'roberta');
    writeRandomRoberta(roberta, { hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 32, vocabSize: 40, maxSeqLen: 20, seed: 2 });
    for (const [name, dir] of [
      ['fam-distil', distil],
      ['fam-roberta', roberta],
    ]) {
      writeFileSync(join(dir, 'vocab.txt'), 'x\n'); // listing needs a complete base, not a usable tokenizer
      await store.registry.models.upload(name, dir, ['config.json', 'model.safetensors', 'vocab.txt']);
    }
    const body = (await (await get('/models')).json()) as {
      data: { name: string; layers: number | null; hiddenSize: number | null; maxSequenceLength: number | null }[];
    };
    const shape = (name: string) => body.data.find((m) => m.name === name);
    assert.deepEqual(shape('fam-distil'), { ...shape('fam-distil'), layers: 3, hiddenSize: 16, maxSequenceLength: 24 });
    // max_position_embeddings is 22 (20 + pad_token_id + 1): 20 positions are usable, as the trainer limits rows.
    assert.deepEqual(shape('fam-roberta'), { ...shape('fam-roberta'), layers: 2, hiddenSize: 16, maxSequenceLength: 20 });
  } finally {
    rmSync(dirs, { recursive: true, force: true });
  }
});

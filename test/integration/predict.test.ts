/**
 * Predictions through the Lambda path, as on AWS: an adapter trained by a real fine-tune job (the API
 * handler -> Batch -> the trainer) into the registry, then POST /adapters/{task}/predict sent as API
 * Gateway v2 events to the inference function's handler (functions/inference-lambda.ts), which copies
 * the base from the registry into a local folder at its cold start. Its probabilities are checked
 * against `trainer predict` (the trainer's own graph, not the serving runtime) on the same adapter files.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, before, test } from 'node:test';
import { handler as inferenceHandler } from '../../functions/inference-lambda.ts';
import { type EventOptions, invokeLambda, type LambdaHttpResponse } from '../support/api-gateway.ts';
import { api, BASE_MODEL, type Fixtures, type JobView, setUp, tearDown, waitForJob } from './fixtures.ts';
import { REPO_ROOT } from './node-test.ts';

let f: Fixtures;
const work = mkdtempSync(join(tmpdir(), 'it-predict-'));
let trained: { task: string; version: string };

/** The inference function's handler with an API Gateway v2 event. */
function inference(path: string, o: EventOptions = {}): Promise<LambdaHttpResponse> {
  const [rawPath, query] = path.split('?');
  return invokeLambda(inferenceHandler, 'POST', rawPath, { query, ...o });
}

interface PredictResponse {
  task: string;
  version: string;
  predictions: { label: string; probs: Record<string, number> }[];
}

const TEXTS = ['a gripping, beautifully acted film', 'dull and far too long', 'it was fine'];

before(async () => {
  // The handler copies bases here at its cold start (on Lambda: /tmp).
  process.env.ADAPTER_STORE_BASE_DIR = join(work, 'bases');
  f = await setUp();
  const task = `it-predict-${f.config.runId}`;
  const res = await api('POST', '/finetune', {
    key: f.config.apiKey,
    body: {
      task,
      datasetUri: f.datasets.small,
      baseModel: BASE_MODEL,
      hyperparameters: { epochs: 1, batchSize: 16, maxSeqLen: 32, validationSplit: 0.25, dropout: 0 },
    },
  });
  assert.equal(res.status, 202, res.text);
  const job = await waitForJob(f, res.json<JobView>().jobId);
  assert.equal(job.status, 'succeeded', JSON.stringify(job.error));
  trained = { task, version: job.adapterVersion! };
});

after(() => {
  tearDown(f);
  rmSync(work, { recursive: true, force: true });
});

/** `trainer predict` on the registry's copy of the base and the adapter version: probabilities per text. */
async function trainerProbs(texts: string[]): Promise<{ probs: number[]; label: string }[]> {
  const base = join(work, 'ref-base');
  const adapter = join(work, 'ref-adapter');
  await f.registry.models.download(BASE_MODEL, base);
  mkdirSync(adapter, { recursive: true });
  const manifest = await f.registry.adapters.manifest(trained.task, trained.version);
  assert.ok(manifest);
  for (const file of manifest.files) {
    const body = await f.registry.adapters.openFile(trained.task, trained.version, file.name);
    assert.ok(body, file.name);
    writeFileSync(join(adapter, file.name), await buffer(body.stream));
  }
  const data = join(work, 'texts.jsonl');
  writeFileSync(data, `${texts.map((text) => JSON.stringify({ text })).join('\n')}\n`);
  const out = join(work, 'ref.jsonl');
  const run = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'trainer/cli.ts', 'predict', '--base', base, '--adapter', adapter, '--data', data, '--out', out],
    { cwd: REPO_ROOT, encoding: 'utf8' },
  );
  assert.equal(run.status, 0, run.stderr);
  return readFileSync(out, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { probs: number[]; label: string });
}

test('POST /adapters/{task}/predict on the inference function: the newest version, one prediction per text, as `trainer predict` gives', async () => {
  const res = await inference(`/adapters/${trained.task}/predict`, { key: f.config.apiKey, body: { inputs: TEXTS } });
  assert.equal(res.status, 200, res.text);
  const out = res.json<PredictResponse>();
  assert.equal(out.task, trained.task);
  assert.equal(out.version, trained.version);
  assert.equal(out.predictions.length, TEXTS.length);

  const manifest = await f.registry.adapters.manifest(trained.task, trained.version);
  const labels = manifest!.labels;
  const reference = await trainerProbs(TEXTS);
  out.predictions.forEach((p, i) => {
    assert.deepEqual(Object.keys(p.probs).sort(), [...labels].sort());
    const probs = labels.map((l) => p.probs[l]);
    assert.ok(Math.abs(probs.reduce((s, x) => s + x, 0) - 1) < 1e-5, `probabilities of text ${i} sum to 1`);
    probs.forEach((x, j) => {
      assert.ok(Math.abs(x - reference[i].probs[j]) < 1e-4, `text ${i} label ${labels[j]}: ${x} vs trainer ${reference[i].probs[j]}`);
    });
    assert.equal(p.label, reference[i].label);
  });

  // A warm container answers the same, pinned to the version (alone in its batch: float noise only).
  const again = await inference(`/adapters/${trained.task}/predict?version=${trained.version}`, {
    key: f.config.apiKey,
    body: { inputs: [TEXTS[0]] },
  });
  assert.equal(again.status, 200, again.text);
  const [first] = again.json<PredictResponse>().predictions;
  assert.equal(first.label, out.predictions[0].label);
  for (const l of labels) assert.ok(Math.abs(first.probs[l] - out.predictions[0].probs[l]) < 1e-6, l);
});

test('an unknown task or version is a 404 problem; no key is a 401, as on the API function', async () => {
  for (const path of [
    `/adapters/it-never-${f.config.runId}/predict`,
    `/adapters/${trained.task}/predict?version=20000101T000000000Z-0000000000000000`,
  ]) {
    const res = await inference(path, { key: f.config.apiKey, body: { inputs: ['x'] } });
    assert.equal(res.status, 404, `${path}: ${res.text}`);
    assert.match(res.headers['content-type'], /^application\/problem\+json/);
  }
  const denied = await inference(`/adapters/${trained.task}/predict`, { body: { inputs: ['x'] } });
  assert.equal(denied.status, 401);
});

test('the API function has no predictor: the route answers 501 there (on AWS it never reaches it)', async () => {
  const res = await api('POST', `/adapters/${trained.task}/predict`, { key: f.config.apiKey, body: { inputs: ['x'] } });
  assert.equal(res.status, 501, res.text);
  assert.match(res.headers['content-type'], /^application\/problem\+json/);
});

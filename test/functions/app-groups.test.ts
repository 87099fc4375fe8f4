/**
 * createApp registers each route group from the dependencies it is given (functions/app.ts ROUTE_GROUPS):
 * a group the deployment lacks is still described in /openapi.json, and its routes answer 501
 * problem+json saying what this deployment does not serve (after the key check, with 405 for a wrong
 * method as before); a half-given group is refused when the app is built, naming what is missing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { type AppDeps, createApp, ROUTE_GROUPS } from '../../functions/app.ts';
import { inferenceDeps } from '../../functions/inference-lambda.ts';
import type { JobLauncher } from '../../functions/jobs/launcher.ts';
import type { Predictor, PredictRequest } from '../../serving/predictor.ts';
import { Registry } from '../../shared/registry/index.ts';

const KEY = 'group-key-0123456789';
const AUTH = { authorization: `Bearer ${KEY}` };

/** Answers every input with the label "pos", and records what it was asked. */
function fakePredictor(): Predictor & { asked: PredictRequest[] } {
  const asked: PredictRequest[] = [];
  return {
    asked,
    predict: async (req) => {
      asked.push(req);
      return { task: req.task, version: 'v1', predictions: req.inputs.map(() => ({ label: 'pos', probs: { pos: 0.9, neg: 0.1 } })) };
    },
    close: async () => {},
  };
}

const launcher: JobLauncher = {
  submit: async (job) => ({ jobId: job.jobId, externalId: 'x' }),
  cancel: async () => {},
  describe: async () => ({ state: 'unknown' }),
};

const emptyRegistry = () => Registry.fromUri(pathToFileURL(join(mkdtempSync(join(tmpdir(), 'app-groups-')), 'store')).href);

async function call(app: ReturnType<typeof createApp>, method: string, path: string, body?: unknown, headers = AUTH) {
  const res = await app.request(path, {
    method,
    headers: { ...headers, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    type: res.headers.get('content-type') ?? '',
    allow: res.headers.get('allow'),
    text,
    json: () => JSON.parse(text),
  };
}

const PREDICT_BODY = { inputs: ['a fine film'] };

test('the inference function gets the predict group only: predict runs, every other group answers 501 and runs nothing', async () => {
  const predictor = fakePredictor();
  const deps = inferenceDeps([KEY], predictor);
  assert.deepEqual(Object.keys(deps).sort(), ['apiKeys', 'predictor'], 'no launcher stub, no registry');
  const app = createApp({ ...deps, log: () => {} });

  const ok = await call(app, 'POST', '/adapters/sst2/predict', PREDICT_BODY);
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json().predictions[0].label, 'pos');
  assert.equal(predictor.asked.length, 1);

  for (const [method, path, body, group] of [
    ['POST', '/finetune', { task: 'sst2', datasetUri: 's3://b/k' }, ROUTE_GROUPS.jobs],
    ['GET', '/finetune/job-1', undefined, ROUTE_GROUPS.jobs],
    ['GET', '/finetune/job-1/events', undefined, ROUTE_GROUPS.jobs],
    ['POST', '/datasets?name=a.jsonl', { text: 'x' }, ROUTE_GROUPS.jobs],
    ['GET', '/adapters', undefined, ROUTE_GROUPS.store],
    ['GET', '/adapters/sst2/download', undefined, ROUTE_GROUPS.store],
    ['GET', '/models', undefined, ROUTE_GROUPS.store],
  ] as const) {
    const res = await call(app, method, path, body);
    assert.equal(res.status, 501, `${method} ${path}: ${res.text}`);
    assert.match(res.type, /^application\/problem\+json/);
    assert.equal(res.json().type, 'urn:adapter-store:problem:not-implemented');
    assert.equal(res.json().detail, group.absent, `${method} ${path}`);
  }
  assert.equal((await call(app, 'GET', '/adapters', undefined, {} as typeof AUTH)).status, 401, 'the key is checked first');
  const wrongMethod = await call(app, 'DELETE', '/finetune');
  assert.equal(wrongMethod.status, 405, 'a wrong method is still 405, not 501');
  assert.deepEqual(wrongMethod.allow?.split(', ').sort(), ['GET', 'HEAD', 'POST']);
  assert.equal((await call(app, 'GET', '/edge')).status, 404, 'no edge assets: /edge does not exist');
  assert.equal((await call(app, 'GET', '/healthz', undefined, {} as typeof AUTH)).status, 200);
});

test('every group is described in /openapi.json whether or not this deployment serves it', async () => {
  const full = createApp({
    apiKeys: [KEY],
    registry: emptyRegistry(),
    defaultBaseModel: 'tiny',
    downloads: 'stream',
    launcher,
    allowedDatasetBuckets: [],
    predictor: fakePredictor(),
    log: () => {},
  });
  const bare = createApp({ apiKeys: [KEY], log: () => {} });
  const paths = async (app: ReturnType<typeof createApp>) => Object.keys((await call(app, 'GET', '/openapi.json')).json().paths).sort();
  const all = await paths(full);
  for (const p of ['/finetune', '/finetune/{jobId}/events', '/datasets', '/adapters', '/models', '/adapters/{task}/predict'])
    assert.ok(all.includes(p), `${p} in the document`);
  assert.deepEqual(await paths(bare), all);
});

test('the store group without a launcher: adapters are listed; jobs and predict answer 501', async () => {
  const app = createApp({ apiKeys: [KEY], registry: emptyRegistry(), defaultBaseModel: 'tiny', downloads: 'stream', log: () => {} });
  const list = await call(app, 'GET', '/adapters');
  assert.equal(list.status, 200, list.text);
  assert.deepEqual(list.json().data, []);
  const job = await call(app, 'POST', '/finetune', { task: 'sst2', datasetUri: 's3://b/k' });
  assert.equal(job.status, 501);
  assert.equal(job.json().detail, ROUTE_GROUPS.jobs.absent);
  const predict = await call(app, 'POST', '/adapters/sst2/predict', PREDICT_BODY);
  assert.equal(predict.status, 501);
  assert.equal(predict.json().detail, 'this deployment serves no predictions; on AWS, predict is routed to the inference function');
});

test('a half-given group is refused when the app is built, naming what is missing', () => {
  const base: AppDeps = { apiKeys: [KEY] };
  assert.throws(() => createApp({ ...base, launcher }), /createApp: launcher given without a registry/);
  assert.throws(() => createApp({ ...base, downloads: 'stream' }), /createApp: downloads given without a registry/);
  assert.throws(() => createApp({ ...base, registry: emptyRegistry(), downloads: 'stream' }), /a registry needs defaultBaseModel/);
  assert.throws(
    () => createApp({ ...base, registry: emptyRegistry(), defaultBaseModel: 'tiny' }),
    /a registry needs downloads: "stream" or "redirect"/,
  );
  assert.throws(
    () => createApp({ ...base, registry: emptyRegistry(), defaultBaseModel: 'tiny', downloads: 'redirect' }),
    /downloads: "redirect" needs signDownloadUrl/,
  );
  assert.throws(
    () => createApp({ ...base, registry: emptyRegistry(), defaultBaseModel: 'tiny', downloads: 'stream', launcher }),
    /a launcher needs allowedDatasetBuckets/,
  );
});

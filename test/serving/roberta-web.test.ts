/**
 * The browser runtime (serving/web.ts on onnxruntime-web, in headless Chromium through `npm start`'s /edge page) on
 * a RoBERTa base: it fetches vocab.json + merges.txt, tokenizes with RoBERTa's byte-level BPE and builds the
 * RoBERTa serving graph; two adapters alternating give the server's logits (the Node runtime, itself equal to
 * `trainer predict`: roberta-node.test.ts) within 1e-4, the bound the BERT page test uses.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { serve } from '@hono/node-server';
import { type Browser, chromium } from 'playwright-core';
import { createApp } from '../../functions/app.ts';
import { edgeAssets } from '../../functions/edge/assets.ts';
import { loadBaseDir, NodeEngines } from '../../serving/node.ts';
import { registryAdapterSource } from '../../serving/node-sources.ts';
import type { PredictResponse } from '../../serving/predictor.ts';
import { createPredictor, type RuntimePredictor } from '../../serving/runtime.ts';
import { tapEngines } from '../../serving/tap.ts';
import { Registry } from '../../shared/registry/index.ts';
import { loadBaseModel } from '../../trainer/model-files/base-model.ts';
import { writeRandomRoberta } from '../../trainer/model-files/random-roberta.ts';
import { idleLauncher } from '../support/idle-launcher.ts';
import { publishRandomAdapter } from '../support/serving-store.ts';

const CHROMIUM = '/usr/bin/chromium';
const KEY = 'edge-key';
const TASKS = ['alpha', 'beta'];
const VOCAB = ['<s>', '<pad>', '</s>', '<unk>', 'h', 'e', 'l', 'o', 'Ġ', 'w', 'r', 'd', 'he', 'll', 'hell', 'hello', 'Ġw', 'Ġwo', '<mask>'];
const MERGES = '#version: 0.2\nh e\nl l\nhe ll\nhell o\nĠ w\nĠw o\n';
const TEXTS = ['hello world', 'he held her old red word', { text: 'hell', text_pair: 'world order' }];

const root = mkdtempSync(join(tmpdir(), 'roberta-web-'));
const baseDir = join(root, 'rb');
let predictor: RuntimePredictor;
let server: ReturnType<typeof serve>;
let url: string;
let browser: Browser;
const serverRuns: { data: Float32Array; dims: number[] }[] = [];

before(async () => {
  writeRandomRoberta(baseDir, {
    hiddenSize: 16,
    numLayers: 2,
    numHeads: 2,
    intermediateSize: 24,
    vocabSize: 40,
    maxSeqLen: 20,
    seed: 3,
    layerNormNoise: 0.2,
  });
  writeFileSync(join(baseDir, 'vocab.json'), JSON.stringify(Object.fromEntries(VOCAB.map((t, i) => [t, i]))));
  writeFileSync(join(baseDir, 'merges.txt'), MERGES);
  const registry = Registry.fromUri(pathToFileURL(join(root, 'store')).href);
  await registry.models.upload('rb', baseDir, ['config.json', 'model.safetensors', 'vocab.json', 'merges.txt']);
  const base = loadBaseModel(baseDir);
  await publishRandomAdapter(registry, 'rb', base, join(root, 'a'), { task: 'alpha', mode: 'adapter', labels: 2, seed: 1 }, 20);
  await publishRandomAdapter(
    registry,
    'rb',
    base,
    join(root, 'b'),
    { task: 'beta', mode: 'adapter', labels: 3, seed: 2, bottleneck: 6 },
    20,
  );
  const engines = new NodeEngines(1);
  predictor = createPredictor({
    source: registryAdapterSource(registry),
    loadBase: (name) => loadBaseDir(name, baseDir, engines),
    engines: tapEngines(engines, (l) => serverRuns.push(l)),
  });
  const app = createApp({
    registry,
    launcher: idleLauncher,
    apiKeys: [KEY],
    allowedDatasetBuckets: ['store'],
    defaultBaseModel: 'rb',
    downloads: 'stream',
    log: () => {},
    predictor,
    edge: edgeAssets(),
  });
  server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  if (existsSync(CHROMIUM)) browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await new Promise((r) => server?.close(r));
  await predictor?.close();
  rmSync(root, { recursive: true, force: true });
});

type PageResult = { response: PredictResponse; logits: { data: number[]; dims: number[] }[] };

test('in headless Chromium: a RoBERTa base with two adapters gives the server logits within 1e-4', {
  skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM}`,
  timeout: 120_000,
}, async (t) => {
  const page = await browser.newPage();
  await page.addInitScript('globalThis.__name = (f) => f;'); // tsx's keepNames helper, called by evaluated functions
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const fetched: string[] = [];
  page.on('response', (r) => {
    if (r.url().includes('/models/rb/files/') && r.status() === 200) fetched.push(r.url().split('/').pop()!);
  });
  await page.goto(`${url}/edge`);
  await page.waitForFunction(() => (globalThis as { adapterStore?: unknown }).adapterStore !== undefined);
  const results: PageResult[] = await page.evaluate(
    async ({ key, tasks, texts }) => {
      type Logits = { data: Float32Array; dims: number[] };
      type Api = {
        createWebPredictor(o: object): { predict(r: object): Promise<PredictResponse>; close(): Promise<void> };
        tapEngines(e: unknown, f: (l: Logits) => void): unknown;
      };
      const g = globalThis as unknown as { adapterStore: Api; location: { origin: string } };
      const api = g.adapterStore;
      const runs: PageResult['logits'] = [];
      const p = api.createWebPredictor({
        apiUrl: g.location.origin,
        apiKey: key,
        engines: (web: unknown) => api.tapEngines(web, (l) => runs.push({ data: Array.from(l.data), dims: l.dims })),
      });
      const out: PageResult[] = [];
      for (const task of [...tasks, ...tasks]) {
        runs.length = 0;
        const response = await p.predict({ task, inputs: texts });
        out.push({ response, logits: runs.slice() });
      }
      await p.close();
      return out;
    },
    { key: KEY, tasks: TASKS, texts: TEXTS },
  );
  assert.deepEqual(errors, []);
  assert.ok(fetched.includes('vocab.json') && fetched.includes('merges.txt'), fetched.join(', '));

  let worst = 0;
  for (const [i, r] of results.entries()) {
    const task = TASKS[i % TASKS.length];
    const before = serverRuns.length;
    const res = await fetch(`${url}/adapters/${task}/predict`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: TEXTS }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.equal(serverRuns.length, before + 1);
    const want = serverRuns[serverRuns.length - 1];
    assert.equal(r.logits.length, 1, 'one run per request');
    assert.deepEqual(r.logits[0].dims, want.dims);
    for (let k = 0; k < want.data.length; k++) worst = Math.max(worst, Math.abs(r.logits[0].data[k] - want.data[k]));
    assert.deepEqual(
      r.response.predictions.map((p) => p.label),
      ((await res.json()) as PredictResponse).predictions.map((p) => p.label),
    );
  }
  t.diagnostic(`RoBERTa page vs server: worst |logit diff| ${worst.toExponential(2)}`);
  assert.ok(worst <= 1e-4, `worst |logit diff| ${worst}`);
  const spread = new Set(results[0].logits[0].data.map((v) => v.toFixed(5)));
  assert.ok(spread.size > 1, 'the rows give different logits, so the comparison means something');
});

/**
 * The browser runtime in real headless Chromium (Debian's, driven by playwright-core; no browser
 * download): the app serves /edge, its bundle and onnxruntime-web's WASM; the page predicts with two
 * adapters (two serving-graph variants) alternating request by request, and its logits equal the
 * server's (the Node engine behind POST /adapters/:task/predict) within 1e-4. After a reload the base
 * comes from the Cache API: the page asks the store for no base file.
 */
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { serve } from '@hono/node-server';
import { type Browser, chromium, type Page } from 'playwright-core';
import { createApp } from '../../functions/app.ts';
import { edgeAssets } from '../../functions/edge/assets.ts';
import { loadBaseDir, NodeEngines } from '../../serving/node.ts';
import { registryAdapterSource } from '../../serving/node-sources.ts';
import type { PredictResponse } from '../../serving/predictor.ts';
import { createPredictor, type RuntimePredictor } from '../../serving/runtime.ts';
import { tapEngines } from '../../serving/tap.ts';
import { BASE_MODEL_FILES } from '../../shared/registry/layout.ts';
import { idleLauncher } from '../support/idle-launcher.ts';
import { type ServingStore, servingStore, type Text } from '../support/serving-store.ts';

const CHROMIUM = '/usr/bin/chromium';
const KEY = 'edge-key';
const TASKS = ['sentiment', 'topic'];
const TEXTS: Text[] = [
  'a gripping, beautifully shot film',
  'two hours I will never get back, and the popcorn was stale too, which did not help at all',
  { text: 'the plot', text_pair: 'was thin but the acting carried it' },
];

let store: ServingStore;
let engines: NodeEngines;
let predictor: RuntimePredictor;
let server: ReturnType<typeof serve>;
let url: string;
let browser: Browser;
/** Logits of every run of the server's engine, in order. */
const serverRuns: { data: Float32Array; dims: number[] }[] = [];

const launcher = idleLauncher;

before(async () => {
  store = await servingStore('web-runtime-');
  await store.publish({ task: 'sentiment', mode: 'adapter', labels: 2, seed: 1 });
  await store.publish({ task: 'topic', mode: 'adapter', labels: 3, seed: 2, nonlinearity: 'relu', usesPooler: true, bottleneck: 6 });
  engines = new NodeEngines(1);
  predictor = createPredictor({
    source: registryAdapterSource(store.registry),
    loadBase: (name) => loadBaseDir(name, store.baseDir, engines),
    engines: tapEngines(engines, (l) => serverRuns.push(l)),
  });
  const app = createApp({
    registry: store.registry,
    launcher,
    apiKeys: [KEY],
    allowedDatasetBuckets: ['store'],
    defaultBaseModel: 'tiny',
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
  rmSync(store.root, { recursive: true, force: true });
});

interface PageRun {
  results: { response: PredictResponse; logits: { data: number[]; dims: number[] }[] }[];
  baseLoads: { fetchedBytes: number; fromCache: number; fetched: number };
  cached: string[];
}

/** In the page: a fresh web predictor (as a new visit makes), tasks alternating request by request. */
function runInPage(page: Page): Promise<PageRun> {
  return page.evaluate(
    async ({ key, tasks, texts }) => {
      type Logits = { data: Float32Array; dims: number[] };
      type Api = {
        createWebPredictor(o: object): {
          predict(r: object): Promise<PredictResponse>;
          close(): Promise<void>;
          baseLoads: PageRun['baseLoads'];
        };
        tapEngines(e: unknown, f: (l: Logits) => void): unknown;
      };
      const g = globalThis as unknown as {
        adapterStore: Api;
        location: { origin: string };
        caches: { open(n: string): Promise<{ keys(): Promise<{ url: string }[]> }> };
      };
      const runs: PageRun['results'][number]['logits'] = [];
      const api = g.adapterStore;
      const p = api.createWebPredictor({
        apiUrl: g.location.origin,
        apiKey: key,
        engines: (web: unknown) => api.tapEngines(web, (l) => runs.push({ data: Array.from(l.data), dims: l.dims })),
      });
      const results: PageRun['results'] = [];
      for (const task of [...tasks, ...tasks]) {
        runs.length = 0;
        const response = await p.predict({ task, inputs: texts });
        results.push({ response, logits: runs.slice() });
      }
      const baseLoads = { ...p.baseLoads };
      await p.close();
      const cached = (await (await g.caches.open('adapter-store-bases-v1')).keys()).map((r) => r.url);
      return { results, baseLoads, cached };
    },
    { key: KEY, tasks: TASKS, texts: TEXTS },
  );
}

/** The server's answer and its engine's logits for the same request. */
async function serverPredict(task: string): Promise<{ response: PredictResponse; logits: { data: Float32Array; dims: number[] } }> {
  const before = serverRuns.length;
  const res = await fetch(`${url}/adapters/${task}/predict`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ inputs: TEXTS }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  assert.equal(serverRuns.length, before + 1, 'one run of the graph per request');
  return { response: (await res.json()) as PredictResponse, logits: serverRuns[serverRuns.length - 1] };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test('the app serves the page, its bundle and onnxruntime-web WASM without a key; the API still needs one', async (t) => {
  const page = await fetch(`${url}/edge`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.match(await page.text(), /<script type="module" src="\/edge\/app.js">/);
  const js = await fetch(`${url}/edge/app.js`, { headers: { 'accept-encoding': 'identity' } });
  assert.equal(js.headers.get('content-type'), 'text/javascript; charset=utf-8');
  const bytes = new Uint8Array(await js.arrayBuffer());
  t.diagnostic(`edge bundle: ${(bytes.byteLength / 1024).toFixed(0)} kB, ${(gzipSync(bytes).byteLength / 1024).toFixed(0)} kB gzipped`);
  const wasm = await fetch(`${url}/edge/ort/ort-wasm-simd-threaded.wasm`);
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  assert.equal(wasm.headers.get('content-encoding'), 'gzip', 'compressed for browsers that accept it');
  const wasmBytes = new Uint8Array(await wasm.arrayBuffer());
  assert.deepEqual([...wasmBytes.subarray(0, 4)], [0, 0x61, 0x73, 0x6d], 'a WebAssembly module');
  t.diagnostic(
    `onnxruntime-web WASM: ${(wasmBytes.byteLength / 1e6).toFixed(1)} MB, ${(Number(wasm.headers.get('content-length')) / 1e6).toFixed(1)} MB gzipped`,
  );
  const glue = await fetch(`${url}/edge/ort/ort-wasm-simd-threaded.mjs`);
  assert.equal(glue.headers.get('content-type'), 'text/javascript; charset=utf-8');
  assert.equal((await fetch(`${url}/edge/ort/other.wasm`)).status, 401, 'only the listed files are public');
  assert.equal((await fetch(`${url}/models/tiny/files/config.json`)).status, 401);
});

test('in headless Chromium: two adapters alternating give the server logits within 1e-4; a reload reads the base from the Cache API', {
  skip: existsSync(CHROMIUM) ? false : `no ${CHROMIUM}`,
  timeout: 120_000,
}, async (t) => {
  const page = await browser.newPage();
  // tsx compiles this file with esbuild's keepNames, whose __name helper the evaluated functions call.
  await page.addInitScript('globalThis.__name = (f) => f;');
  const baseRequests: { url: string; status: number }[] = [];
  page.on('response', (r) => {
    if (r.url().includes('/models/')) baseRequests.push({ url: r.url(), status: r.status() });
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${url}/edge`);
  await page.waitForFunction(() => (globalThis as { adapterStore?: unknown }).adapterStore !== undefined);

  const t0 = performance.now();
  const first = await runInPage(page);
  t.diagnostic(`first visit: ${(performance.now() - t0).toFixed(0)} ms for 4 requests (base fetched, WASM compiled, 2 sessions)`);
  assert.deepEqual(errors, []);
  assert.ok(first.baseLoads.fetchedBytes > 0 && first.baseLoads.fromCache === 0, JSON.stringify(first.baseLoads));
  assert.ok(baseRequests.some((r) => r.url.endsWith('/models/tiny/files/model.safetensors') && r.status === 200));
  assert.ok(
    first.cached.some((u) => u.includes('/models/tiny/files/model.safetensors?sha256=')),
    first.cached.join('\n'),
  );

  const expected = new Map<string, Awaited<ReturnType<typeof serverPredict>>>();
  for (const task of TASKS) expected.set(task, await serverPredict(task));
  let worst = 0;
  for (const [i, r] of first.results.entries()) {
    const task = TASKS[i % TASKS.length];
    const want = expected.get(task)!;
    assert.equal(r.response.task, task);
    assert.equal(r.response.version, want.response.version);
    assert.equal(r.logits.length, 1, 'one run per request');
    assert.deepEqual(r.logits[0].dims, want.logits.dims);
    assert.deepEqual(r.logits[0].dims, [TEXTS.length, task === 'topic' ? 3 : 2]);
    worst = Math.max(worst, maxDiff(r.logits[0].data, want.logits.data));
    assert.deepEqual(
      r.response.predictions.map((p) => p.label),
      want.response.predictions.map((p) => p.label),
    );
    for (const [j, p] of r.response.predictions.entries())
      assert.ok(maxDiff(Object.values(p.probs), Object.values(want.response.predictions[j].probs)) < 1e-4);
  }
  t.diagnostic(`max |logit(browser) - logit(server)| = ${worst.toExponential(2)}`);
  assert.ok(worst < 1e-4, `logits differ by ${worst}`);
  // The two adapters really differ (else alternating them would prove nothing).
  assert.notDeepEqual(first.results[0].logits[0].dims, first.results[1].logits[0].dims);

  baseRequests.length = 0;
  await page.reload();
  await page.waitForFunction(() => (globalThis as { adapterStore?: unknown }).adapterStore !== undefined);
  const second = await runInPage(page);
  // Every base file is read from the cache, an absent optional one (a 404 kept) included.
  assert.deepEqual(second.baseLoads, { fetchedBytes: 0, fromCache: BASE_MODEL_FILES.length, fetched: 0 });
  assert.deepEqual(baseRequests, [], 'no request for a base file after the reload');
  for (const [i, r] of second.results.entries()) assert.ok(maxDiff(r.logits[0].data, first.results[i].logits[0].data) < 1e-6);
  await page.close();
});

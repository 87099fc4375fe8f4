/**
 * The inference function's bundle as synth builds it (for this machine's arch), run as Lambda runs it:
 * a fresh process imports index.mjs and handles API Gateway events. Its worker (node-worker.mjs) and the
 * pruned onnxruntime-node must load from the bundle alone, and its predictions must be the trainer's.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { buildInferenceBundle, runInferenceBundle } from '../support/inference-bundle.ts';
import { servingStore, trainerLogits } from '../support/serving-store.ts';

function softmax(logits: Float32Array): number[] {
  const max = Math.max(...logits);
  const e = Array.from(logits, (x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}

test("the built inference bundle serves predict from the registry: the trainer's probabilities, 404 for an unknown task", {
  timeout: 240_000,
}, async () => {
  const work = mkdtempSync(join(tmpdir(), 'inference-bundle-'));
  const store = await servingStore('inference-bundle-store-');
  try {
    const { adapter } = await store.publish({ task: 'tone', mode: 'adapter', labels: 2, bottleneck: 4, seed: 3 });
    const bundle = buildInferenceBundle(join(work, 'cdk.out'), process.arch === 'arm64' ? 'arm64' : 'x64');
    const texts = ['a gripping film', 'dull and far too long'];
    const run = await runInferenceBundle(
      bundle,
      {
        PATH: process.env.PATH,
        ADAPTER_STORE_REGISTRY: pathToFileURL(join(store.root, 'store')).href,
        ADAPTER_STORE_API_KEYS: 'k',
        ADAPTER_STORE_DEFAULT_BASE_MODEL: 'tiny',
        ADAPTER_STORE_INFERENCE_THREADS: '1',
        ADAPTER_STORE_BASE_DIR: join(work, 'bases'),
      },
      [
        { task: 'tone', key: 'k', body: { inputs: texts } },
        { task: 'missing', key: 'k', body: { inputs: texts } },
      ],
    );
    const [ok, missing] = run.responses;
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const body = ok.body as { task: string; predictions: { label: string; probs: Record<string, number> }[] };
    assert.equal(body.task, 'tone');
    const expected = (await trainerLogits(store, adapter, texts)).map(softmax);
    body.predictions.forEach((p, i) =>
      adapter.config.labels.forEach((label, j) => assert.ok(Math.abs(p.probs[label] - expected[i][j]) < 1e-5, `row ${i} ${label}`)),
    );
    assert.equal(missing.status, 404, JSON.stringify(missing.body));
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(store.root, { recursive: true, force: true });
  }
});

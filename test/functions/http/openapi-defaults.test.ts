/** /openapi.json states each hyperparameter's default: the value run-job applies when the field is absent. */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { createApp } from '../../../functions/app.ts';
import { trainDefaults } from '../../../trainer/train/defaults.ts';
import { idleLauncher } from '../../support/idle-launcher.ts';
import { type ServingStore, servingStore } from '../../support/serving-store.ts';

let store: ServingStore;
before(async () => {
  store = await servingStore('openapi-defaults-');
});
after(() => rmSync(store.root, { recursive: true, force: true }));

test("the Hyperparameters schema carries the trainer's defaults", async () => {
  const app = createApp({
    registry: store.registry,
    launcher: idleLauncher,
    apiKeys: ['defaults-key'],
    allowedDatasetBuckets: ['store'],
    defaultBaseModel: 'tiny',
    downloads: 'stream',
    log: () => {},
  });
  const res = await app.request('/openapi.json', { headers: { authorization: 'Bearer defaults-key' } });
  assert.equal(res.status, 200);
  const doc = (await res.json()) as { components: { schemas: { Hyperparameters: { properties: Record<string, { default?: unknown }> } } } };
  const p = doc.components.schemas.Hyperparameters.properties;
  assert.equal(p.lr.default, trainDefaults.lr);
  assert.equal(p.epochs.default, trainDefaults.epochs);
  assert.equal(p.bottleneck.default, trainDefaults.bottleneck);
  assert.equal(p.metric.default, trainDefaults.metric);
  assert.deepEqual(p.seeds.default, trainDefaults.seeds);
  assert.equal(p.trainLayernorms.default, true);
  assert.equal(p.maxSteps.default, undefined, 'no default is invented for a field without one');
});

/** The form's fields come from the app's real OpenAPI document, and check what the API checks. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createApp } from '../../../../functions/app.ts';
import {
  describeBounds,
  describeField,
  hyperparameterFields,
  type OpenApiDoc,
  parseField,
} from '../../../../functions/console/ui/form-schema.ts';
import type { JobLauncher } from '../../../../functions/jobs/launcher.ts';
import { HyperparametersSchema } from '../../../../functions/schemas.ts';
import type { Registry } from '../../../../shared/registry/index.ts';
import { trainDefaults } from '../../../../trainer/train/defaults.ts';

async function fields() {
  const app = createApp({
    registry: {} as Registry,
    launcher: {} as JobLauncher,
    apiKeys: ['k'],
    allowedDatasetBuckets: [],
    defaultBaseModel: 'base',
    downloads: 'stream',
    log: () => {},
  });
  const doc = (await (await app.request('/openapi.json', { headers: { authorization: 'Bearer k' } })).json()) as OpenApiDoc;
  return hyperparameterFields(doc);
}

test('every hyperparameter of the schema has a field with its bounds', async () => {
  const f = await fields();
  assert.deepEqual(
    f.map((x) => x.name),
    Object.keys(HyperparametersSchema.shape),
  );
  const byName = Object.fromEntries(f.map((x) => [x.name, x]));
  assert.deepEqual([byName.epochs.kind, byName.epochs.min, byName.epochs.max], ['integer', 1, 100]);
  assert.equal(describeBounds(byName.lr), '0 < x ≤ 1');
  assert.equal(describeBounds(byName.validationSplit), '0 < x < 1');
  assert.deepEqual(byName.mode.options, ['adapter', 'full', 'head']);
  assert.equal(byName.seeds.kind, 'integer-list');
  assert.equal(byName.labels.kind, 'string-list');
});

test('parseField accepts what the API accepts and refuses what it refuses', async () => {
  const f = Object.fromEntries((await fields()).map((x) => [x.name, x]));
  const cases: [string, string][] = [
    ['lr', '0.003'],
    ['lr', '0'],
    ['lr', '2'],
    ['epochs', '3'],
    ['epochs', '2.5'],
    ['epochs', '101'],
    ['validationSplit', '1'],
    ['mode', 'head'],
    ['mode', 'lora'],
    ['seeds', '1, 2, 3'],
    ['seeds', '1, 1'],
    ['seeds', '-1'],
    ['labels', 'neg, pos'],
    ['labels', 'only'],
    ['adapterLayers', '0-3'],
    ['adapterLayers', 'all'],
    ['trainLayernorms', 'false'],
  ];
  for (const [name, raw] of cases) {
    const parsed = parseField(f[name], raw);
    const api = HyperparametersSchema.safeParse(parsed.ok ? { [name]: parsed.value } : { [name]: raw });
    // The distinct-seeds rule is the API's own refinement, beyond the schema's bounds.
    if (name === 'seeds' && raw === '1, 1') continue;
    assert.equal(
      parsed.ok,
      api.success,
      `${name}=${raw}: form ${parsed.ok ? 'accepts' : 'refuses'}, API ${api.success ? 'accepts' : 'refuses'}`,
    );
  }
  assert.deepEqual(parseField(f.lr, '  '), { ok: true, value: undefined }, 'empty: not sent');
  assert.deepEqual(parseField(f.lr, '2'), { ok: false, error: 'lr must be ≤ 1' });
});

test("each field shows its default (the trainer's, from /openapi.json) beside its bounds", async () => {
  const byName = Object.fromEntries((await fields()).map((x) => [x.name, x]));
  assert.equal(byName.lr.defaultValue, String(trainDefaults.lr));
  assert.equal(describeField(byName.lr), `default ${trainDefaults.lr} · 0 < x ≤ 1`);
  assert.equal(byName.seeds.defaultValue, trainDefaults.seeds.join(', '));
  assert.equal(byName.metric.defaultValue, trainDefaults.metric);
  assert.equal(byName.maxSteps.defaultValue, undefined);
  assert.match(describeField(byName.maxSteps), /^no default · 1 ≤ x/);
});

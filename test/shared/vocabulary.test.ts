/**
 * shared/vocabulary.ts holds each closed value list once: the source spells none of them elsewhere, and
 * the API's enums (/openapi.json, the zod schemas) and the CLI's choices (its --help) are these lists.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, test } from 'node:test';
import { createApp } from '../../functions/app.ts';
import { HyperparametersSchema } from '../../shared/job-schema.ts';
import { BASE_MODEL_FILES } from '../../shared/registry/layout.ts';
import * as vocabulary from '../../shared/vocabulary.ts';
import {
  BASE_WEIGHT_DTYPES,
  DATASET_FORMATS,
  DEVICES,
  EXPORT_FORMATS,
  FLOAT_STORAGE_DTYPES,
  JOB_EVENT_LEVELS,
  JOB_STATES,
  LR_SCHEDULES,
  NONLINEARITIES,
  OPTIMIZERS,
  SCORE_METRICS,
  SELECTION_METRICS,
  TRAIN_MODES,
} from '../../shared/vocabulary.ts';
import { trainFlags } from '../../trainer/cli-flags.ts';
import { idleLauncher } from '../support/idle-launcher.ts';
import { runTrainerCli } from '../support/process.ts';
import { type ServingStore, servingStore } from '../support/serving-store.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const LISTS = Object.entries(vocabulary as Record<string, unknown>).filter((e): e is [string, readonly string[]] => Array.isArray(e[1]));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sourceFiles(path);
    return /\.m?ts$/.test(e.name) ? [path] : [];
  });
}

test('no source file spells a vocabulary list: as an array or as a union type', () => {
  assert.ok(LISTS.length >= 12, 'the lists are found');
  const files = ['trainer', 'functions', 'shared', 'serving', 'cdk']
    .flatMap((d) => sourceFiles(join(ROOT, d)))
    .filter((f) => !f.endsWith(join('shared', 'vocabulary.ts')) && !f.endsWith('assets.generated.ts'));
  assert.ok(files.length > 100, 'the source tree is scanned');
  const spelled: string[] = [];
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const [name, list] of LISTS) {
      if (list.length < 2) continue; // a one-value list ('int8') is any literal's spelling
      for (const separator of [', ', ' | ']) {
        if (text.includes(list.map((v) => `'${v}'`).join(separator))) spelled.push(`${relative(ROOT, file)}: ${name}`);
      }
    }
  }
  assert.deepEqual(spelled, []);
});

test("the job schema's and the CLI flags' zod enums are the lists", () => {
  const h = HyperparametersSchema.shape;
  assert.deepEqual(h.mode.unwrap().options, TRAIN_MODES);
  assert.deepEqual(h.nonlinearity.unwrap().options, NONLINEARITIES);
  assert.deepEqual(h.metric.unwrap().options, SELECTION_METRICS);
  const t = trainFlags.shape;
  assert.deepEqual(t.mode.options, TRAIN_MODES);
  assert.deepEqual(t.nonlinearity.options, NONLINEARITIES);
  assert.deepEqual(t.metric.options, SELECTION_METRICS);
  assert.deepEqual(t.optimizer.options, OPTIMIZERS);
  assert.deepEqual(t.schedule.options, LR_SCHEDULES);
  assert.deepEqual(t.device.options, DEVICES);
  assert.deepEqual(t.format.unwrap().options, DATASET_FORMATS);
});

let store: ServingStore;
before(async () => {
  store = await servingStore('vocabulary-');
});
after(() => rmSync(store.root, { recursive: true, force: true }));

test("/openapi.json's enums are the lists", async () => {
  const app = createApp({
    registry: store.registry,
    launcher: idleLauncher,
    apiKeys: ['vocabulary-key'],
    allowedDatasetBuckets: ['store'],
    defaultBaseModel: 'tiny',
    downloads: 'stream',
    log: () => {},
  });
  const doc = (await (await app.request('/openapi.json')).json()) as { components: { schemas: Record<string, unknown> } };
  const at = (path: string): unknown =>
    path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], doc.components.schemas);
  const expected: [string, readonly string[]][] = [
    ['Hyperparameters.properties.mode.anyOf.0.enum', TRAIN_MODES],
    ['Hyperparameters.properties.mode.anyOf.1.items.enum', TRAIN_MODES],
    ['Hyperparameters.properties.nonlinearity.anyOf.0.enum', NONLINEARITIES],
    ['Hyperparameters.properties.metric.enum', SELECTION_METRICS],
    ['Sweep.properties.metric.enum', SELECTION_METRICS],
    ['BelowMajority.properties.metric.enum', SCORE_METRICS],
    ['AdapterManifest.properties.mode.enum', TRAIN_MODES],
    ['FinetuneJob.properties.status.enum', JOB_STATES],
    ['SweepPoint.properties.status.enum', JOB_STATES],
    ['Dataset.properties.format.enum', DATASET_FORMATS],
    ['FinetuneEvent.oneOf.0.properties.level.enum', JOB_EVENT_LEVELS],
  ];
  for (const [path, list] of expected) assert.deepEqual(at(path), list, path);

  // Every enum of two or more values in the document is a vocabulary list, or one of the few that are
  // not a product vocabulary (a query flag, the download's file names, a base's file names: the registry
  // layout's own list, a point's end state).
  const others = [['true', 'false'], ['succeeded', 'failed'], [...BASE_MODEL_FILES]].map((l) => JSON.stringify(l));
  const enums: string[][] = [];
  const walk = (o: unknown): void => {
    if (o === null || typeof o !== 'object') return;
    const e = (o as { enum?: unknown }).enum;
    if (Array.isArray(e) && e.length > 1) enums.push(e as string[]);
    for (const v of Object.values(o)) walk(v);
  };
  walk(doc);
  const known = new Set([...LISTS.map(([, l]) => JSON.stringify(l)), ...others]);
  const unknown = enums.filter((e) => !known.has(JSON.stringify(e)) && !e.includes('adapter.safetensors'));
  assert.deepEqual(unknown, []);
  assert.ok(enums.length > 30, 'the walk finds the enums');
});

/** Each flag's choices in a command's --help, e.g. {"--mode": ["adapter", "full", "head"]}. */
async function helpChoices(command: string): Promise<Record<string, string[]>> {
  const r = await runTrainerCli([command, '--help']);
  assert.equal(r.code, 0, r.stderr);
  const entries = r.stdout.split(/\n(?= {2}-)/).map((e) => e.replace(/\s+/g, ' ').trim());
  const choices: Record<string, string[]> = {};
  for (const entry of entries) {
    const m = /^(?:-\w, )?(--[a-z-]+).*?\(choices: ((?:"[^"]*"(?:, )?)+)/.exec(entry);
    if (m) choices[m[1]] = [...m[2].matchAll(/"([^"]*)"/g)].map((v) => v[1]);
  }
  return choices;
}

test("the CLI's choices are the lists, on every command", async () => {
  // sweep takes train's own Option objects, and predict, eval and run-job the same device and data options.
  const expected: Record<string, Record<string, readonly string[]>> = {
    train: {
      '--format': DATASET_FORMATS,
      '--device': DEVICES,
      '--mode': TRAIN_MODES,
      '--nonlinearity': NONLINEARITIES,
      '--optimizer': OPTIMIZERS,
      '--schedule': LR_SCHEDULES,
      '--metric': SELECTION_METRICS,
    },
    ablate: { '--format': DATASET_FORMATS, '--device': DEVICES, '--metric': SELECTION_METRICS },
    export: { '--format': EXPORT_FORMATS },
    'init-base': { '--dtype': BASE_WEIGHT_DTYPES },
    pretrain: { '--format': DATASET_FORMATS, '--save-dtype': FLOAT_STORAGE_DTYPES },
  };
  const commands = Object.keys(expected);
  const actual = await Promise.all(commands.map(helpChoices));
  commands.forEach((command, i) => {
    assert.deepEqual(actual[i], expected[command], command);
  });
});

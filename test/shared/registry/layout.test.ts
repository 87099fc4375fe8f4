/**
 * The layout: every key the registry writes, spelled out (a key that changes strands what is stored under
 * the old one), the name rules, and that the module bundles for a browser (no node: imports).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { RegistryError } from '../../../shared/registry/error.ts';
import {
  BASE_MODEL_FILES,
  contentTypeOf,
  datasetName,
  isFromTheFuture,
  MAX_VERSION_CLOCK_SKEW_MS,
  newVersionId,
  RegistryLayout,
  slug,
  VERSION_RE,
  versionId,
  versionTime,
} from '../../../shared/registry/layout.ts';

const invalid = (e: unknown) => e instanceof RegistryError && e.code === 'invalid';

test('every key, under a prefix and without one', () => {
  const sha = `${'0123456789abcdef'.repeat(4)}`;
  const v = '20261129T052429629Z-64f616c397be98d9';
  for (const p of ['', 'store/']) {
    const l = new RegistryLayout(p);
    assert.deepEqual(
      {
        spec: l.jobFile('ft-1', 'spec.json'),
        jobFolder: l.jobFile('ft-1', ''),
        checkpoint: l.checkpointPrefix('ft-1'),
        pointCheckpoint: l.checkpointPrefix('ft-1', 2),
        pointStatus: l.pointStatus('ft-1', 2),
        pointAdapter: l.pointAdapterPrefix('ft-1', 2),
        events: l.jobEventsPrefix('ft-1'),
        indexAll: l.jobIndexPrefix(),
        indexTask: l.jobIndexPrefix('alpha'),
        entryAll: l.jobIndexEntry({ jobId: 'ft-1', createdAt: '1970-01-01T00:00:00.000Z' }),
        entryTask: l.jobIndexEntry({ jobId: 'ft-1', createdAt: '2026-11-29T12:00:00.000Z' }, 'alpha'),
        idempotency: l.idempotencyClaim(sha),
        dataset: l.dataset(sha, 'd.jsonl'),
        upload: l.datasetUpload('up.csv', new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).replace(/-[0-9a-f]{16}\//, '-<random>/'),
        model: l.model('bert'),
        modelFile: l.modelFile('bert', 'config.json'),
        task: l.task('sentiment'),
        adapterFile: l.adapterFile('sentiment', v, 'manifest.json'),
      },
      {
        spec: `${p}jobs/ft-1/spec.json`,
        jobFolder: `${p}jobs/ft-1/`,
        checkpoint: `${p}jobs/ft-1/checkpoint/`,
        pointCheckpoint: `${p}jobs/ft-1/points/2/checkpoint/`,
        pointStatus: `${p}jobs/ft-1/points/2/status.json`,
        pointAdapter: `${p}jobs/ft-1/points/2/adapter/`,
        events: `${p}jobs/ft-1/events/`,
        indexAll: `${p}job-index/all/`,
        indexTask: `${p}job-index/task/alpha/`,
        // (36^9 - 1 - ms since the epoch) in base 36, nine digits: the newest job sorts first.
        entryAll: `${p}job-index/all/zzzzzzzzz-ft-1`,
        entryTask: `${p}job-index/task/alpha/${(36 ** 9 - 1 - Date.UTC(2026, 10, 29, 12)).toString(36).padStart(9, '0')}-ft-1`,
        idempotency: `${p}idempotency/${sha}.json`,
        dataset: `${p}datasets/0123456789abcdef/d.jsonl`,
        upload: `${p}datasets/uploads/20260102T030405006Z-<random>/up.csv`,
        model: `${p}models/bert/`,
        modelFile: `${p}models/bert/config.json`,
        task: `${p}adapters/sentiment/`,
        adapterFile: `${p}adapters/sentiment/${v}/manifest.json`,
      },
    );
    assert.equal(l.jobIdOfIndexEntry('zzzzzzzzz-ft-1'), 'ft-1');
    assert.equal(l.manifestVersion(l.task('sentiment'), `${p}adapters/sentiment/${v}/manifest.json`), v);
    assert.equal(l.manifestVersion(l.task('sentiment'), `${p}adapters/sentiment/${v}/metrics.json`), null);
    assert.equal(l.checkDatasetUpload(`${p}datasets/uploads/${v}/up.csv`), `${p}datasets/uploads/${v}/up.csv`);
  }
});

test('names inside keys are checked, each with a precise message', () => {
  const l = new RegistryLayout();
  assert.throws(() => l.jobFile('../x', 'spec.json'), {
    message: 'job id "../x" must be 1-64 characters of a-z, 0-9, "_" or "-", starting with a letter or digit',
  });
  assert.throws(() => l.task('Upper'), invalid);
  assert.throws(() => l.model(''), invalid);
  assert.throws(() => l.checkpointPrefix('ft-1', -1), { message: 'sweep point -1 is not an index' });
  assert.throws(() => l.checkpointPrefix('ft-1', 1.5), invalid);
  assert.throws(() => l.jobIndexEntry({ jobId: 'ft-1', createdAt: 'yesterday' }), {
    message: 'job ft-1: createdAt "yesterday" is not a time',
  });
  assert.throws(() => l.dataset('nothex', 'd.jsonl'), { message: 'dataset sha256 "nothex" is not 64 hex digits' });
  assert.throws(() => l.checkDatasetUpload('datasets/uploads/x/up.csv'), {
    message: '"datasets/uploads/x/up.csv" is not a dataset upload key',
  });
  assert.throws(() => datasetName('a..b'), invalid);
  assert.throws(() => datasetName('.hidden'), invalid);
  assert.equal(datasetName('train.v2.jsonl'), 'train.v2.jsonl');
  assert.equal(slug('task', 'a_b-1'), 'a_b-1');
  assert.throws(() => versionId('latest'), { message: 'version "latest" is not a version id' });
});

test('version ids: time-ordered, 64 random bits, dated beyond the clock skew means never', () => {
  const at = new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6));
  const a = newVersionId(at);
  const b = newVersionId(at);
  assert.match(a, VERSION_RE);
  assert.ok(a.startsWith('20260102T030405006Z-'));
  assert.notEqual(a, b, 'same millisecond, different random bits');
  assert.ok(newVersionId(new Date(at.getTime() + 1)) > a, 'a later millisecond sorts after');
  assert.equal(versionTime(a), at.getTime());
  assert.ok(Number.isNaN(versionTime('nope')));
  assert.equal(isFromTheFuture(a, at.getTime() - MAX_VERSION_CLOCK_SKEW_MS), false);
  assert.equal(isFromTheFuture(a, at.getTime() - MAX_VERSION_CLOCK_SKEW_MS - 1), true);
});

test('file lists and media types', () => {
  assert.deepEqual(BASE_MODEL_FILES, [
    'config.json',
    'model.safetensors',
    'vocab.txt',
    'tokenizer.json',
    'tokenizer_config.json',
    'vocab.json',
    'merges.txt',
    'sentencepiece.bpe.model',
  ]);
  assert.equal(contentTypeOf('manifest.json'), 'application/json');
  assert.equal(contentTypeOf('README.md'), 'text/markdown; charset=utf-8');
  assert.equal(contentTypeOf('adapter.safetensors'), 'application/octet-stream');
});

test('the layout bundles for a browser: no node: import, nothing outside itself and its error type', async () => {
  const esbuild = await import('esbuild');
  const out = await esbuild.build({
    entryPoints: [fileURLToPath(import.meta.resolve('../../../shared/registry/layout.ts'))],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  assert.deepEqual(Object.keys(out.metafile.inputs).sort(), ['shared/registry/error.ts', 'shared/registry/layout.ts']);
});

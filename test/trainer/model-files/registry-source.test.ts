/**
 * `trainer export --registry URI --task T [--version V]` and `trainer download`: a user names a task, never
 * a key of the store. The newest version by default; the same model bytes as an export from directories;
 * unknown tasks and versions answered with what exists; a download is checked against the manifest.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { AdapterManifest } from '../../../shared/manifest.ts';
import { LOCAL_REGISTRY_FOLDER, localRegistryUri, newVersionId, Registry } from '../../../shared/registry/index.ts';
import { loadBaseModel } from '../../../trainer/model-files/base-model.ts';
import { formatBytes } from '../../../trainer/model-files/registry-source.ts';
import { runTrainerCliSync, trainOn } from '../../support/process.ts';
import { TOY_JSONL, writeTinyBert } from '../../support/tiny-bert.ts';

const work = mkdtempSync(join(tmpdir(), 'registry-source-'));
const base = join(work, 'base');
const data = join(work, 'toy.jsonl');
const adapter = join(work, 'adapter');
// Laid out as npm start keeps its store: <store>/adapter-store/ is the registry.
const localStore = join(work, 'store');
const storeDir = join(localStore, LOCAL_REGISTRY_FOLDER);
const uri = localRegistryUri(localStore);
const registry = Registry.fromUri(uri);
// No registry from the environment unless a test gives one; no local store in the working directory.
const cli = (...args: string[]) => runTrainerCliSync(args, { ADAPTER_STORE_REGISTRY: '', ADAPTER_STORE_DIR: join(work, 'no-store') });
const versions: AdapterManifest[] = [];
let other: AdapterManifest;
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

before(async () => {
  writeTinyBert(base);
  writeFileSync(data, TOY_JSONL);
  const t = trainOn(base, data)(adapter, '--max-steps 4 --bottleneck 2 --batch-size 8 --quiet');
  assert.equal(t.code, 0, t.stderr);
  await registry.models.upload('tiny', base, ['config.json', 'model.safetensors', 'vocab.txt']);
  const meta = {
    task: 'toy',
    jobId: null,
    baseModel: { name: 'tiny', weightsSha256: loadBaseModel(base).weightsSha256 },
    mode: 'adapter' as const,
    labels: ['neg', 'pos'],
    parameters: { trainable: 1, total: 2 },
    metrics: null,
  };
  // Two versions a minute apart: the newer is the default.
  versions.push(await registry.adapters.publish(adapter, meta, newVersionId(new Date(Date.now() - 60_000))));
  versions.push(await registry.adapters.publish(adapter, meta, newVersionId()));
  other = await registry.adapters.publish(adapter, { ...meta, task: 'other' }, newVersionId(new Date(Date.now() - 60_000)));
});
after(() => rmSync(work, { recursive: true, force: true }));

test('export --registry --task: the newest version, its base fetched from the registry, the same model as from directories', () => {
  const fromDirs = join(work, 'from-dirs');
  assert.equal(cli('export', '--adapter', adapter, '--base', base, '--out', fromDirs).code, 0);
  const out = join(work, 'from-registry');
  const r = cli('export', '--registry', uri, '--task', 'toy', '--out', out);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`exporting toy version ${versions[1].version} from ${uri}`));
  assert.deepEqual(readdirSync(out).sort(), readdirSync(fromDirs).sort());
  assert.equal(sha(join(out, 'model.onnx')), sha(join(fromDirs, 'model.onnx')));
  assert.match(r.stdout, /^wrote the onnx export to .* \(6 files, [\d.]+ (kB|MB)\):\n {2}README\.md +[\d.]+ (bytes|kB)\n/);

  const older = join(work, 'older');
  const o = cli('export', '--registry', uri, '--task', 'toy', '--version', versions[0].version, '--out', older, '--format', 'adapterhub');
  assert.equal(o.code, 0, o.stderr);
  assert.match(o.stderr, new RegExp(`version ${versions[0].version}`));
  assert.ok(existsSync(join(older, 'adapter_config.json')));
});

test('unknown task lists the tasks; unknown version lists the versions; bad flag combinations say which', () => {
  const unknownTask = cli('export', '--registry', uri, '--task', 'toyy', '--out', join(work, 'x1'));
  assert.equal(unknownTask.code, 1);
  assert.match(unknownTask.stderr, /^error: --task toyy: no published adapter in .*; its tasks: other, toy\n$/);
  const missing = '20200101T000000000Z-00000000000000aa';
  const unknownVersion = cli('download', '--registry', uri, '--task', 'toy', '--version', missing, '--out', join(work, 'x2'));
  assert.equal(unknownVersion.code, 1);
  assert.match(
    unknownVersion.stderr,
    new RegExp(
      `^error: --version ${missing}: task "toy" has no such version; its versions, newest first: ${versions[1].version}, ${versions[0].version}\\n$`,
    ),
  );
  assert.ok(!existsSync(join(work, 'x2')), 'nothing is left under --out');
  const both = cli('export', '--task', 'toy', '--adapter', adapter, '--out', join(work, 'x3'));
  assert.match(both.stderr, /give --adapter <dir>, or --task <name> \(of --registry <uri>\), not both/);
  const noTask = cli('export', '--registry', uri, '--out', join(work, 'x4'));
  assert.match(noTask.stderr, /--registry needs --task <name>/);
  const neither = cli('export', '--out', join(work, 'x5'));
  assert.match(neither.stderr, /give --adapter <dir>, or --task <name> to take it from a registry/);
  const noRegistry = cli('download', '--task', 'toy', '--out', join(work, 'x6'));
  assert.match(noRegistry.stderr, /--task needs a registry: give --registry <uri> or set ADAPTER_STORE_REGISTRY .* none at .*no-store\)/);
});

test("without --registry: $ADAPTER_STORE_REGISTRY, else npm start's local store ($ADAPTER_STORE_DIR)", () => {
  const viaEnv = runTrainerCliSync(['download', '--task', 'toy', '--out', join(work, 'env')], {
    ADAPTER_STORE_REGISTRY: uri,
    ADAPTER_STORE_DIR: join(work, 'no-store'),
  });
  assert.equal(viaEnv.code, 0, viaEnv.stderr);
  assert.match(viaEnv.stdout, new RegExp(`^wrote toy version ${versions[1].version} of ${uri} to `));
  const viaLocal = runTrainerCliSync(['export', '--task', 'other', '--format', 'adapterhub', '--out', join(work, 'local')], {
    ADAPTER_STORE_REGISTRY: '',
    ADAPTER_STORE_DIR: localStore,
  });
  assert.equal(viaLocal.code, 0, viaLocal.stderr);
  assert.match(viaLocal.stderr, new RegExp(`^exporting other version .* from ${uri}`));
});

test('download: the version files (checked against the manifest) and, with --base-out, its base', async () => {
  const out = join(work, 'downloaded');
  const baseOut = join(work, 'downloaded-base');
  const r = cli('download', '--registry', uri, '--task', 'toy', '--out', out, '--base-out', baseOut);
  assert.equal(r.code, 0, r.stderr);
  for (const f of versions[1].files) assert.equal(sha(join(out, f.name)), f.sha256);
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')), versions[1]);
  assert.equal(sha(join(baseOut, 'model.safetensors')), sha(join(base, 'model.safetensors')));
  assert.match(r.stdout, new RegExp(`wrote toy version ${versions[1].version} of ${uri} to `));
  assert.match(r.stdout, /wrote its base "tiny" to /);
  // The download is what predict takes.
  const preds = join(work, 'preds.jsonl');
  const p = cli('predict', '--base', baseOut, '--adapter', out, '--data', data, '--out', preds);
  assert.equal(p.code, 0, p.stderr);

  // A stored file that is not what the manifest says is refused, and nothing lands under --out.
  const key = join(storeDir, 'adapters', 'toy', versions[1].version, 'adapter.safetensors');
  assert.ok(existsSync(key), key);
  writeFileSync(key, Buffer.concat([readFileSync(key), Buffer.from([0])]));
  const bad = cli('download', '--registry', uri, '--task', 'toy', '--out', join(work, 'bad'));
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /adapter\.safetensors: \d+ bytes with sha256 [0-9a-f]{64}, the manifest says \d+ bytes/);
  assert.ok(!existsSync(join(work, 'bad')));
});

test('the newest version with a sound manifest is the default (a corrupt one is skipped, as GET /adapters does)', async () => {
  const { task, jobId, baseModel, mode, labels, parameters, metrics } = other;
  const newer = await registry.adapters.publish(adapter, { task, jobId, baseModel, mode, labels, parameters, metrics });
  writeFileSync(join(storeDir, 'adapters', 'other', newer.version, 'manifest.json'), '{"not": "a manifest"');
  const r = cli('download', '--registry', uri, '--task', 'other', '--out', join(work, 'sound'));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^wrote other version ${other.version} of `));
});

test('sizes read as people write them', () => {
  assert.equal(formatBytes(999), '999 bytes');
  assert.equal(formatBytes(1500), '1.5 kB');
  assert.equal(formatBytes(437_000_000), '437.0 MB');
});

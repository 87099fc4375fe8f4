/**
 * `trainer export --format adapterhub` writes the Python `adapters` library's layout: adapter.safetensors and
 * pytorch_adapter.bin hold the same adapter tensors and nothing else, the head is in the head files and the
 * trained LayerNorms in layernorms.safetensors. Our reader puts the trained set back together from it, and
 * still reads the layout exports had before (every trained tensor in adapter.safetensors).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readAdapterDir } from '../../../trainer/model-files/adapter-dir.ts';
import { loadBaseModel } from '../../../trainer/model-files/base-model.ts';
import { readTorchStateDict } from '../../../trainer/model-files/pytorch-zip.ts';
import type { F32Tensor } from '../../../trainer/model-files/safetensors.ts';
import { readSafetensors, toFloat32 } from '../../../trainer/model-files/safetensors.ts';
import { Rng } from '../../../trainer/util/random.ts';
import { runTrainerCliSync, trainOn } from '../../support/process.ts';
import { writeTinyBert } from '../../support/tiny-bert.ts';

const work = mkdtempSync(join(tmpdir(), 'adapterhub-export-'));
after(() => rmSync(work, { recursive: true, force: true }));
const base = join(work, 'base');
const data = join(work, 'train.jsonl');
const trained = join(work, 'trained');
const exported = join(work, 'exported');
const train = trainOn(base, data);
const cli = (...args: string[]) => runTrainerCliSync(args);

before(() => {
  writeTinyBert(base, { maxPositions: 32, vocabSize: 60 });
  const rng = new Rng(3);
  const lines = Array.from({ length: 32 }, () => {
    const label = rng.int(2);
    return JSON.stringify({
      input_ids: [2, ...Array.from({ length: 3 + rng.int(6) }, () => 8 + 20 * label + rng.int(20))],
      label: label ? 'pos' : 'neg',
    });
  });
  writeFileSync(data, `${lines.join('\n')}\n`);
  // LayerNorms trained (the default), so all three kinds of tensor exist.
  const t = train(trained, '--task toy --lr 1e-2 --max-steps 4 --batch-size 8 --bottleneck 4 --dropout 0 --seed 1 --quiet');
  assert.equal(t.code, 0, t.stderr);
  const e = cli('export', '--format', 'adapterhub', '--adapter', trained, '--out', exported);
  assert.equal(e.code, 0, e.stderr);
});

const safetensorsTensors = (path: string): Map<string, F32Tensor> =>
  new Map([...readSafetensors(path).tensors].map(([n, t]) => [n, { shape: t.shape, data: toFloat32(t, n) }]));
const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));
const sorted = (m: ReadonlyMap<string, unknown>) => [...m.keys()].sort();
function assertSameTensors(got: ReadonlyMap<string, F32Tensor>, want: ReadonlyMap<string, F32Tensor>, rename = (n: string) => n) {
  assert.deepEqual(sorted(got), [...want.keys()].map(rename).sort());
  for (const [name, t] of want) {
    assert.deepEqual(got.get(rename(name))!.shape, t.shape, name);
    assert.deepEqual(bits(got.get(rename(name))!.data), bits(t.data), name);
  }
}

test('the export splits the trained tensors as the library does: adapter files equal and adapter-only, head and LayerNorms apart', () => {
  assert.deepEqual(readdirSync(exported).sort(), [
    'README.md',
    'adapter.safetensors',
    'adapter_config.json',
    'head_config.json',
    'layernorms.safetensors',
    'metrics.json',
    'model_head.safetensors',
    'pytorch_adapter.bin',
    'pytorch_model_head.bin',
  ]);
  const all = readAdapterDir(trained).tensors; // our trained directory: every tensor in adapter.safetensors
  const part = (keep: (n: string) => boolean) => new Map([...all].filter(([n]) => keep(n)));
  const adapterOnly = part((n) => n.includes('.adapters.toy.'));
  const layerNorms = part((n) => /\.LayerNorm\.(weight|bias)$/.test(n));
  const classifier = part((n) => n.startsWith('classifier.'));
  assert.ok(adapterOnly.size > 0 && layerNorms.size > 0 && classifier.size === 2);
  assert.equal(adapterOnly.size + layerNorms.size + classifier.size, all.size);

  const safetensors = safetensorsTensors(join(exported, 'adapter.safetensors'));
  const bin = readTorchStateDict(join(exported, 'pytorch_adapter.bin'));
  assertSameTensors(safetensors, adapterOnly);
  assertSameTensors(bin, adapterOnly);
  assert.ok(![...safetensors.keys()].some((n) => n.startsWith('classifier.') || n.startsWith('heads.') || n.includes('LayerNorm')));
  assertSameTensors(safetensorsTensors(join(exported, 'layernorms.safetensors')), layerNorms);
  const toHead = (n: string) => n.replace(/^classifier\./, 'heads.toy.1.');
  assertSameTensors(safetensorsTensors(join(exported, 'model_head.safetensors')), classifier, toHead);
  assertSameTensors(readTorchStateDict(join(exported, 'pytorch_model_head.bin')), classifier, toHead);
});

test('our reader, predict and a warm start take the exported directory as the trained one', () => {
  const original = readAdapterDir(trained);
  const back = readAdapterDir(exported);
  assertSameTensors(back.tensors, original.tensors);
  assert.deepEqual(back.config.adapter, original.config.adapter);
  const predict = (dir: string, file: string) => {
    const p = cli('predict', '--base', base, '--adapter', dir, '--data', data, '--out', join(work, file));
    assert.equal(p.code, 0, p.stderr);
    return readFileSync(join(work, file), 'utf8');
  };
  assert.equal(predict(exported, 'p-exported.jsonl'), predict(trained, 'p-trained.jsonl'));
  const warm = join(work, 'warm');
  const w = train(warm, '--optimizer sgd --lr 1e-30 --max-steps 1 --dropout 0 --weight-decay 0 --quiet', '--init-adapter', exported);
  assert.equal(w.code, 0, w.stderr);
  assertSameTensors(readAdapterDir(warm).tensors, original.tensors);
  // Exporting the export again gives the same files.
  const again = join(work, 'again');
  assert.equal(cli('export', '--format', 'adapterhub', '--adapter', exported, '--out', again).code, 0);
  for (const f of ['adapter.safetensors', 'pytorch_adapter.bin', 'model_head.safetensors', 'layernorms.safetensors'])
    assert.deepEqual(readFileSync(join(again, f)), readFileSync(join(exported, f)), f);
});

test("the layout exports had before still reads: every trained tensor in adapter.safetensors, with our fields or the library's only", () => {
  const original = readAdapterDir(trained).tensors;
  // Before the split an export was the trained directory as it is (ours + the library's other files).
  assertSameTensors(readAdapterDir(join(work, 'trained')).tensors, original);
  // The same directory with only the library's fields and the full adapter.safetensors in place of the .bin.
  const old = join(work, 'old-theirs');
  mkdirSync(old);
  const { name, version, model_type, model_name, model_class, hidden_size, config } = JSON.parse(
    readFileSync(join(trained, 'adapter_config.json'), 'utf8'),
  );
  writeFileSync(
    join(old, 'adapter_config.json'),
    JSON.stringify({ name, version, model_type, model_name, model_class, hidden_size, config }),
  );
  for (const f of ['adapter.safetensors', 'head_config.json', 'model_head.safetensors']) copyFileSync(join(trained, f), join(old, f));
  assertSameTensors(readAdapterDir(old, loadBaseModel(base)).tensors, original);
});

test('an exported directory whose head files are gone is refused with the file named', () => {
  const broken = join(work, 'broken');
  mkdirSync(broken);
  for (const f of ['adapter.safetensors', 'adapter_config.json']) copyFileSync(join(exported, f), join(broken, f));
  assert.throws(() => readAdapterDir(broken), /broken\/adapter\.safetensors: holds no classifier, and no head_config\.json is beside it/);
});

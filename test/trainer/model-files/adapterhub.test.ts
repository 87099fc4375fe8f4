/**
 * The AdapterHub layout: reduction_factor gives back every bottleneck under the library's own arithmetic,
 * a trained adapter goes out (our export) and comes back in (the reader of their format, with our fields
 * removed) with every tensor bit for bit and the same logits from `trainer predict` and a warm start,
 * and configs the network here cannot reproduce are refused with the field named.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { readAdapterDir } from '../../../trainer/model-files/adapter-dir.ts';
import { bottleneckFor, pyFloorDiv, readAdapterHubDir, reductionFactorFor } from '../../../trainer/model-files/adapterhub.ts';
import { loadBaseModel } from '../../../trainer/model-files/base-model.ts';
import { readTorchStateDict } from '../../../trainer/model-files/pytorch-zip.ts';
import { readSafetensors } from '../../../trainer/model-files/safetensors.ts';
import { Rng } from '../../../trainer/util/random.ts';
import { runTrainerCliSync, trainOn } from '../../support/process.ts';
import { PYTHON } from '../../support/python-torch.ts';
import { writeTinyBert } from '../../support/tiny-bert.ts';

const HIDDEN_SIZES = [128, 256, 312, 384, 768, 1024];
const work = mkdtempSync(join(tmpdir(), 'adapterhub-'));
const base = join(work, 'base');
const data = join(work, 'train.jsonl');

const cli = (...args: string[]) => runTrainerCliSync(args);
const train = trainOn(base, data);

before(() => {
  writeTinyBert(base, { maxPositions: 32, vocabSize: 60 });
  const rng = new Rng(1);
  const lines: string[] = [];
  for (let i = 0; i < 40; i++) {
    const label = rng.int(2);
    lines.push(
      JSON.stringify({
        input_ids: [2, ...Array.from({ length: 3 + rng.int(6) }, () => 8 + 20 * label + rng.int(20))],
        label: label ? 'pos' : 'neg',
      }),
    );
  }
  writeFileSync(data, `${lines.join('\n')}\n`);
});

test('pyFloorDiv is Python float floor division, including the inexact cases', () => {
  assert.equal(pyFloorDiv(768, 16), 48);
  assert.equal(pyFloorDiv(7, 2), 3);
  assert.equal(pyFloorDiv(-7, 2), -4);
  assert.equal(pyFloorDiv(1, 0.1), 9); // Python: 1 // 0.1 == 9.0 (0.1 is a bit above 1/10)
  assert.equal(pyFloorDiv(128, 128 / 5), 4); // why hidden/m alone is not always a valid reduction_factor (Python: 4.0)
  assert.equal(pyFloorDiv(768, 768 / 7), 7);
});

test("reduction_factor gives back every bottleneck 1..hidden on common hidden sizes (ours and Python's arithmetic)", () => {
  const table: [number, number, number][] = [];
  for (const h of HIDDEN_SIZES) {
    for (let m = 1; m <= h; m++) {
      const r = reductionFactorFor(h, m);
      assert.equal(bottleneckFor(h, r), m, `hidden ${h}, bottleneck ${m}, reduction_factor ${r}`);
      if (h % m === 0) assert.ok(Number.isInteger(r), `hidden ${h}, bottleneck ${m}: an integer where m divides hidden`);
      table.push([h, m, r]);
    }
  }
  // The library computes int(hidden // reduction_factor) in Python on the value JSON gives it.
  const r = spawnSync(
    PYTHON,
    ['-c', 'import json,sys\nbad=[t for t in json.load(sys.stdin) if int(t[0] // t[2]) != t[1]]\nprint(json.dumps(bad[:5]))'],
    { input: JSON.stringify(table), encoding: 'utf8' },
  );
  if (r.status === null || r.error) {
    assert.ok(process.env.CI !== 'true', `python3 is needed under CI: ${String(r.error)}`);
    return;
  }
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), []);
});

/** Copies an exported directory without any of our own files or fields: what the Python library itself would save. */
function theirsOnly(from: string, to: string, { withAdapterSafetensors = false } = {}) {
  mkdirSync(to, { recursive: true });
  const ours = JSON.parse(readFileSync(join(from, 'adapter_config.json'), 'utf8'));
  const { name, version, model_type, model_name, model_class, hidden_size, config } = ours;
  writeFileSync(
    join(to, 'adapter_config.json'),
    JSON.stringify({ name, version, model_type, model_name, model_class, hidden_size, config }),
  );
  for (const f of ['pytorch_adapter.bin', 'head_config.json', 'pytorch_model_head.bin', 'layernorms.safetensors'])
    if (existsSync(join(from, f))) copyFileSync(join(from, f), join(to, f));
  if (withAdapterSafetensors) copyFileSync(join(from, 'adapter.safetensors'), join(to, 'adapter.safetensors'));
}

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

for (const trainLayernorms of ['true', 'false'] as const) {
  test(`round trip (--train-layernorms ${trainLayernorms}): export -> their format -> our reader, predict and warm start, bit for bit`, () => {
    const out = join(work, `trained-${trainLayernorms}`);
    const r = train(
      out,
      '--task toy --lr 1e-2 --epochs 3 --batch-size 16 --bottleneck 5 --adapter-layers 1 --dropout 0 --seed 2 --nonlinearity swish --quiet',
      '--train-layernorms',
      trainLayernorms,
    );
    assert.equal(r.code, 0, r.stderr);
    const files = readdirSync(out);
    assert.equal(files.includes('layernorms.safetensors'), trainLayernorms === 'true');
    const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
    assert.equal(config.name, 'toy');
    assert.equal(config.version, 'adapters.1.2.0');
    assert.equal(config.config.reduction_factor, reductionFactorFor(16, 5));
    assert.ok(!Number.isInteger(config.config.reduction_factor) && bottleneckFor(16, config.config.reduction_factor) === 5);
    assert.deepEqual(config.config.leave_out, [0]);
    assert.equal(config.config.non_linearity, 'swish');
    assert.ok(!('architecture' in config.config) && !('scaling' in config.config));
    const head = JSON.parse(readFileSync(join(out, 'head_config.json'), 'utf8'));
    assert.deepEqual(head.config.label2id, { neg: 0, pos: 1 });
    assert.deepEqual([...readTorchStateDict(join(out, 'pytorch_model_head.bin')).keys()], ['heads.toy.1.weight', 'heads.toy.1.bias']);
    assert.deepEqual([...readSafetensors(join(out, 'model_head.safetensors')).tensors.keys()].sort(), [
      'heads.toy.1.bias',
      'heads.toy.1.weight',
    ]);
    const card = readFileSync(join(out, 'README.md'), 'utf8');
    assert.match(card, /^---\ntags:\n {2}- adapter-transformers/);
    assert.match(card, /model\.active_head = name/);
    assert.equal(card.includes('layernorms.safetensors'), trainLayernorms === 'true');

    const theirs = join(work, `theirs-${trainLayernorms}`);
    theirsOnly(out, theirs);
    const original = readAdapterDir(out);
    const imported = readAdapterHubDir(theirs, loadBaseModel(base));
    assert.deepEqual([...imported.tensors.keys()].sort(), [...original.tensors.keys()].sort());
    for (const [name, t] of original.tensors) {
      assert.deepEqual(imported.tensors.get(name)!.shape, t.shape, name);
      assert.deepEqual(bits(imported.tensors.get(name)!.data), bits(t.data), name);
    }
    assert.deepEqual(imported.config.adapter, { ...original.config.adapter, initStd: 1e-3 });
    assert.deepEqual(imported.config.labels, original.config.labels);

    const rows = join(work, 'rows.jsonl');
    writeFileSync(rows, `${readFileSync(data, 'utf8').split('\n').slice(0, 12).join('\n')}\n`);
    const predict = (dir: string, file: string) => {
      const p = cli('predict', '--base', base, '--adapter', dir, '--data', rows, '--out', join(work, file));
      assert.equal(p.code, 0, p.stderr);
      return readFileSync(join(work, file), 'utf8');
    };
    assert.equal(predict(theirs, `p-theirs-${trainLayernorms}.jsonl`), predict(out, `p-ours-${trainLayernorms}.jsonl`));

    // A warm start from their format starts where the original adapter is: SGD with a vanishing step keeps it.
    const warm = join(work, `warm-${trainLayernorms}`);
    const w = train(
      warm,
      '--optimizer sgd --lr 1e-30 --max-steps 1 --dropout 0 --weight-decay 0 --quiet',
      '--init-adapter',
      theirs,
      '--train-layernorms',
      trainLayernorms,
    );
    assert.equal(w.code, 0, w.stderr);
    const after = readAdapterDir(warm);
    for (const [name, t] of original.tensors) assert.deepEqual(bits(after.tensors.get(name)!.data), bits(t.data), name);
  });
}

test('their adapter.safetensors works in place of pytorch_adapter.bin; no head: predict refuses, train takes labels from the data', () => {
  const theirs = join(work, 'theirs-safetensors');
  mkdirSync(theirs);
  const from = join(work, 'trained-false');
  theirsOnly(from, theirs, { withAdapterSafetensors: true });
  rmSync(join(theirs, 'pytorch_adapter.bin'));
  for (const f of ['head_config.json', 'pytorch_model_head.bin']) rmSync(join(theirs, f));
  const imported = readAdapterDir(theirs, loadBaseModel(base));
  assert.deepEqual(imported.config.labels, []);
  assert.ok(![...imported.tensors.keys()].some((n) => n.startsWith('classifier')));
  const p = cli('predict', '--base', base, '--adapter', theirs, '--data', data, '--out', join(work, 'nohead.jsonl'));
  assert.notEqual(p.code, 0);
  assert.match(p.stderr, /has no head \(head_config\.json\)/);
  const t = train(join(work, 'from-headless'), '--max-steps 1 --quiet', '--init-adapter', theirs);
  assert.equal(t.code, 0, t.stderr);
  assert.deepEqual(readAdapterDir(join(work, 'from-headless')).config.labels, ['neg', 'pos']);
});

test('configs this network cannot reproduce are refused with the field named', () => {
  const b = loadBaseModel(base);
  const from = join(work, 'trained-false');
  const cases: [string, (c: Record<string, unknown>, top: Record<string, unknown>) => void, RegExp][] = [
    [
      'pfeiffer',
      (c) => {
        c.mh_adapter = false;
        c.original_ln_before = true;
      },
      /config\.mh_adapter is false/,
    ],
    [
      'lnafter',
      (c) => {
        c.ln_after = true;
      },
      /config\.ln_after is true/,
    ],
    [
      'parallel',
      (c) => {
        c.is_parallel = true;
      },
      /config\.is_parallel/,
    ],
    [
      'scaled',
      (c) => {
        c.scaling = 4.0;
      },
      /config\.scaling 4/,
    ],
    [
      'lora',
      (c) => {
        c.architecture = 'lora';
      },
      /architecture "lora"/,
    ],
    [
      'oldgelu',
      (c, top) => {
        c.non_linearity = 'gelu';
        delete top.version;
      },
      /read as "gelu_new"/,
    ],
    [
      'perlayer',
      (c) => {
        c.reduction_factor = { '1': 2, default: 4 };
        c.leave_out = [];
      },
      /different bottlenecks per layer/,
    ],
    [
      'hidden',
      (_c, top) => {
        top.hidden_size = 768;
      },
      /hidden_size 768 does not match the base's 16/,
    ],
    [
      'name',
      (_c, top) => {
        top.name = 'SST 2';
      },
      /"name" must be/,
    ],
  ];
  for (const [label, change, expected] of cases) {
    const dir = join(work, `bad-${label}`);
    theirsOnly(from, dir);
    const top = JSON.parse(readFileSync(join(dir, 'adapter_config.json'), 'utf8'));
    change(top.config, top);
    writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify(top));
    assert.throws(() => readAdapterDir(dir, b), expected, label);
  }
  assert.throws(() => readAdapterDir(join(work, 'theirs-false')), /an AdapterHub adapter; reading it needs the base model/);
});

test('export --format adapterhub: onnx-only flags are refused; head- and full-mode adapters are refused', () => {
  const o = cli(
    'export',
    '--format',
    'adapterhub',
    '--dtype',
    'f16',
    '--adapter',
    join(work, 'trained-false'),
    '--out',
    join(work, 'x-onnx'),
  );
  assert.notEqual(o.code, 0);
  assert.match(o.stderr, /--dtype: apply to --format onnx only/);
  const headOnly = join(work, 'head-mode');
  assert.equal(train(headOnly, '--mode head --max-steps 1 --quiet').code, 0);
  assert.deepEqual(readdirSync(headOnly).sort(), ['adapter.safetensors', 'adapter_config.json', 'metrics.json']);
  const e = cli('export', '--format', 'adapterhub', '--adapter', headOnly, '--out', join(work, 'x-head'));
  assert.notEqual(e.code, 0);
  assert.match(e.stderr, /trained in "head" mode/);
  const ok = cli(
    'export',
    '--format',
    'adapterhub',
    '--adapter',
    join(work, 'theirs-true'),
    '--base',
    base,
    '--out',
    join(work, 'x-theirs'),
    '--model-name',
    'bert-tiny',
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(JSON.parse(readFileSync(join(work, 'x-theirs', 'adapter_config.json'), 'utf8')).model_name, 'bert-tiny');
});

/**
 * `trainer export --format onnx` end to end on a tiny trained adapter: the exported model, run by plain
 * onnxruntime-node (no project code), gives `trainer predict`'s logits; onnxruntime-web's WASM backend
 * (in a child Node process that imports nothing of this project) gives the same; f16 and int8 stay within
 * their measured tolerance, and int8 gives f32's labels in both engines; the adapters-as-inputs graph with its
 * packed feeds equals the baked one; bad flags are refused with the flag named.
 */
import assert from 'node:assert/strict';
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { type ExportOptions, exportAdapter } from '../../../trainer/model-files/export.ts';
import { exportOnnx } from '../../../trainer/model-files/onnx-package.ts';
import { readSafetensors, toFloat32 } from '../../../trainer/model-files/safetensors.ts';
import { Rng } from '../../../trainer/util/random.ts';
import { runTrainerCliSync, trainOn } from '../../support/process.ts';
import { writeTinyBert } from '../../support/tiny-bert.ts';

const work = mkdtempSync(join(tmpdir(), 'onnx-export-'));
const base = join(work, 'base');
const data = join(work, 'rows.jsonl');
const adapter = join(work, 'adapter');
const cli = (...args: string[]) => runTrainerCliSync(args);
const train = trainOn(base, data);

interface Row {
  input_ids: number[];
  token_type_ids: number[];
}
const rows: Row[] = [];
let predicted: number[][] = [];

before(() => {
  writeTinyBert(base, { maxPositions: 32, vocabSize: 60, layerNormNoise: 0.2 });
  const rng = new Rng(2);
  const lines: string[] = [];
  for (let i = 0; i < 24; i++) {
    const label = rng.int(2);
    const n = 3 + rng.int(9);
    const row = {
      input_ids: [2, ...Array.from({ length: n }, () => 8 + 20 * label + rng.int(20))],
      token_type_ids: Array.from({ length: n + 1 }, (_, t) => (t > n / 2 ? 1 : 0)),
    };
    rows.push(row);
    lines.push(JSON.stringify({ ...row, label: label ? 'pos' : 'neg' }));
  }
  writeFileSync(data, `${lines.join('\n')}\n`);
  const t = train(adapter, '--max-steps 12 --lr 0.01 --bottleneck 3 --adapter-layers 1 --batch-size 8 --quiet');
  assert.equal(t.code, 0, t.stderr);
  const preds = join(work, 'preds.jsonl');
  const p = cli('predict', '--base', base, '--adapter', adapter, '--data', data, '--out', preds, '--batch-size', '5');
  assert.equal(p.code, 0, p.stderr);
  predicted = readFileSync(preds, 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { logits: number[] }).logits);
});
after(() => rmSync(work, { recursive: true, force: true }));

/** The rows as one right-padded batch (int64 feeds, as the README tells users). */
function feeds(): Record<string, ort.Tensor> {
  const S = Math.max(...rows.map((r) => r.input_ids.length));
  const ids = new BigInt64Array(rows.length * S);
  const mask = new BigInt64Array(rows.length * S);
  const types = new BigInt64Array(rows.length * S);
  rows.forEach((r, i) =>
    r.input_ids.forEach((id, t) => {
      ids[i * S + t] = BigInt(id);
      mask[i * S + t] = 1n;
      types[i * S + t] = BigInt(r.token_type_ids[t]);
    }),
  );
  const dims = [rows.length, S];
  return {
    input_ids: new ort.Tensor('int64', ids, dims),
    attention_mask: new ort.Tensor('int64', mask, dims),
    token_type_ids: new ort.Tensor('int64', types, dims),
  };
}

async function run(modelPath: string, extra: Record<string, ort.Tensor> = {}): Promise<number[][]> {
  const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
  const out = await session.run({ ...feeds(), ...extra });
  await session.release();
  const [B, L] = out.logits.dims as number[];
  const flat = out.logits.data as Float32Array;
  return Array.from({ length: B }, (_, r) => Array.from(flat.subarray(r * L, (r + 1) * L)));
}

const maxDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((row, r) => row.map((v, k) => Math.abs(v - b[r][k]))));
const exported = (name: string) => join(work, name);
let f32Logits: number[][] = [];

test('f32 export: the files, and logits equal to trainer predict within 1e-5 in onnxruntime-node', async () => {
  const r = cli('export', '--base', base, '--adapter', adapter, '--out', exported('f32'));
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(exported('f32')).sort(), [
    'README.md',
    'labels.json',
    'model.onnx',
    'tokenizer.json',
    'tokenizer_config.json',
    'vocab.txt',
  ]);
  // export says what it wrote: every file with its size.
  assert.match(r.stdout, /^wrote the onnx export to .*f32 \(6 files, [\d.]+ kB\):\n/);
  for (const f of readdirSync(exported('f32'))) assert.match(r.stdout, new RegExp(`\\n  ${f.replace('.', '\\.')} +[\\d.]+ (bytes|kB|MB)`));
  assert.deepEqual(JSON.parse(readFileSync(join(exported('f32'), 'labels.json'), 'utf8')), ['neg', 'pos']);
  const tok = JSON.parse(readFileSync(join(exported('f32'), 'tokenizer_config.json'), 'utf8'));
  assert.equal(tok.model_max_length, 32);
  assert.equal(tok.do_lower_case, true);
  const session = await ort.InferenceSession.create(join(exported('f32'), 'model.onnx'));
  assert.deepEqual([...session.inputNames].sort(), ['attention_mask', 'input_ids', 'token_type_ids']);
  assert.deepEqual(session.outputNames, ['logits']);
  await session.release();
  f32Logits = await run(join(exported('f32'), 'model.onnx'));
  assert.equal(f32Logits.length, predicted.length);
  const diff = maxDiff(f32Logits, predicted);
  assert.ok(diff <= 1e-5, `max |logit diff| vs trainer predict: ${diff}`);
  // The adapter moved the logits: a comparison of untrained heads would show little.
  assert.ok(Math.max(...predicted.flat().map(Math.abs)) > 0.05);
  assert.match(readFileSync(join(exported('f32'), 'README.md'), 'utf8'), /onnxruntime-web/);
});

/** The model run by onnxruntime-web's WASM backend in a child Node process that imports no project code. */
function runWeb(modelPath: string): number[][] {
  const feedsFile = join(work, 'feeds.json');
  const f = feeds();
  writeFileSync(
    feedsFile,
    JSON.stringify(
      Object.fromEntries(Object.entries(f).map(([k, t]) => [k, { data: Array.from(t.data as BigInt64Array, String), dims: t.dims }])),
    ),
  );
  const script = `
    import * as ort from 'onnxruntime-web';
    import { readFileSync } from 'node:fs';
    ort.env.wasm.numThreads = 1;
    const [model, feedsFile] = process.argv.slice(1);
    const raw = JSON.parse(readFileSync(feedsFile, 'utf8'));
    const feeds = Object.fromEntries(Object.entries(raw).map(([k, t]) => [k, new ort.Tensor('int64', BigInt64Array.from(t.data, BigInt), t.dims)]));
    const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(model)), { executionProviders: ['wasm'] });
    const out = await session.run(feeds);
    process.stdout.write(JSON.stringify({ dims: out.logits.dims, data: Array.from(out.logits.data) }));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script, modelPath, feedsFile], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const { dims, data: flat } = JSON.parse(r.stdout) as { dims: number[]; data: number[] };
  return Array.from({ length: dims[0] }, (_, i) => flat.slice(i * dims[1], (i + 1) * dims[1]));
}

/** The first fenced block of a language in a README. */
function snippet(readme: string, lang: string): string {
  const m = new RegExp(`\`\`\`${lang}\\n([\\s\\S]*?)\`\`\``).exec(readme);
  assert.ok(m, `no ${lang} block in the README`);
  return m[1];
}

test("the README's Node snippet, run as written in the export directory, tokenizes text and gives trainer predict's logits", () => {
  const dir = exported('f32');
  const code = snippet(readFileSync(join(dir, 'README.md'), 'utf8'), 'js');
  assert.doesNotMatch(code, /\[\[101,/, 'no hard-coded ids');
  // The user's project would have the two packages installed: this checkout's node_modules stands in.
  symlinkSync(fileURLToPath(new URL('../../../node_modules', import.meta.url)), join(dir, 'node_modules'));
  writeFileSync(join(dir, 'snippet.mjs'), code);
  let r: SpawnSyncReturns<string>;
  try {
    r = spawnSync(process.execPath, ['snippet.mjs'], { cwd: dir, encoding: 'utf8' });
  } finally {
    rmSync(join(dir, 'node_modules'));
    rmSync(join(dir, 'snippet.mjs'));
  }
  assert.equal(r.status, 0, r.stderr);
  const out = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { text: string; label: string; logits: number[] });
  assert.deepEqual(
    out.map((o) => o.text),
    ['a first text', 'another one'],
  );
  const textRows = join(work, 'snippet-texts.jsonl');
  writeFileSync(textRows, `${out.map((o) => JSON.stringify({ text: o.text })).join('\n')}\n`);
  const preds = join(work, 'snippet-preds.jsonl');
  const p = cli('predict', '--base', base, '--adapter', adapter, '--data', textRows, '--out', preds);
  assert.equal(p.code, 0, p.stderr);
  const expected = readFileSync(preds, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { logits: number[]; label: string });
  const diff = maxDiff(
    out.map((o) => o.logits),
    expected.map((e) => e.logits),
  );
  assert.ok(diff <= 1e-5, `snippet vs trainer predict: max |logit diff| ${diff}`);
  assert.deepEqual(
    out.map((o) => o.label),
    expected.map((e) => e.label),
  );
});

test('the same model in onnxruntime-web (WASM backend, in a Node process that imports no project code) agrees within 1e-5', () => {
  const diff = maxDiff(runWeb(join(exported('f32'), 'model.onnx')), f32Logits);
  assert.ok(diff <= 1e-5, `max |logit diff| web vs node: ${diff}`);
});

// int8 vs f32, measured on this tiny base (hidden 16, weights ~0.2, |logit| up to ~0.42): 2.2e-2. The bound (~2.5x
// measured) leaves room for kernel summation order only. Why that size at all: int8 rounds each weight by half a step
// of max|row|/127 plus the activations' 1/255 of their range, and hidden 16 averages little of it out (the benchmark
// gives the figures on the shipped base). A wrong graph (dropped adapter, LayerNorm or scale) moves logits by far more.
const INT8_VS_F32 = 5e-2;
// f16 rounds each weight by up to 2^-11 relative: measured 1.1e-3 here.
const F16_VS_F32 = 3e-3;

/** Index of the largest logit of each row, and the gap to the second largest. */
const labels = (logits: number[][]): number[] => logits.map((row) => row.indexOf(Math.max(...row)));
const margin = (row: number[]): number => {
  const [a, b] = [...row].sort((x, y) => y - x);
  return a - b;
};

test('f16 and int8 exports: smaller, within their measured tolerance of f32', async () => {
  await exportOnnx({ base, adapter, out: exported('f16'), dtype: 'f16' });
  await exportOnnx({ base, adapter, out: exported('int8'), quantize: 'int8' });
  const size = (d: string) => statSync(join(exported(d), 'model.onnx')).size;
  // On this tiny base the graph's own bytes weigh as much as the weights; the benchmark shows the real ratios.
  assert.ok(size('f16') < size('f32'), `f16 ${size('f16')} vs f32 ${size('f32')} bytes`);
  assert.ok(size('int8') < size('f32'), `int8 ${size('int8')} vs f32 ${size('f32')} bytes`);
  const f16 = maxDiff(await run(join(exported('f16'), 'model.onnx')), f32Logits);
  const int8 = maxDiff(await run(join(exported('int8'), 'model.onnx')), f32Logits);
  const scale = Math.max(...f32Logits.flat().map(Math.abs));
  assert.ok(f16 > 0 && f16 <= F16_VS_F32, `f16 max |logit diff| ${f16} (logit scale ${scale})`);
  assert.ok(int8 > 0 && int8 <= INT8_VS_F32, `int8 max |logit diff| ${int8} (logit scale ${scale})`);
  // f16 is float arithmetic in both engines: onnxruntime-web gives node's results.
  const f16Model = join(exported('f16'), 'model.onnx');
  const f16Web = maxDiff(runWeb(f16Model), await run(f16Model));
  assert.ok(f16Web <= 1e-5, `f16: max |logit diff| web vs node: ${f16Web}`);
  process.stdout.write(`# logit scale ${scale.toFixed(3)}\n`);
  process.stdout.write(`# measured max |logit diff| vs f32: f16 ${f16.toExponential(2)}, int8 ${int8.toExponential(2)}\n`);
});

test('int8 in onnxruntime-web: within the quantisation bound of f32 and of node, and the same labels', async () => {
  const model = join(exported('int8'), 'model.onnx');
  const [web, node] = [runWeb(model), await run(model)];
  // The two engines' int8 kernels differ, so their logits are not equal: onnxruntime-node on x86 without VNNI sums
  // u8 x s8 products pairwise into int16 with saturation (vpmaddubsw), WASM sums them exactly in int32, and a code
  // of the per-call activation quantisation can round the other way. Each engine still computes the same
  // quantised model, so each is within the quantisation error of f32 (INT8_VS_F32), and by the triangle
  // inequality within twice that of the other: 0.042 was measured on one such machine, ~1e-6 on a VNNI one.
  const webVsF32 = maxDiff(web, f32Logits);
  const webVsNode = maxDiff(web, node);
  assert.ok(webVsF32 <= INT8_VS_F32, `int8 web vs f32: max |logit diff| ${webVsF32}`);
  assert.ok(webVsNode <= 2 * INT8_VS_F32, `int8 web vs node: max |logit diff| ${webVsNode}`);
  // What a user sees is the label. A row whose f32 top-two gap exceeds 2 * INT8_VS_F32 cannot change label under
  // an error within the bound; rows nearer a tie may flip in either engine, so they are counted, not compared.
  const clear = f32Logits.map((row, i) => (margin(row) > 2 * INT8_VS_F32 ? i : -1)).filter((i) => i >= 0);
  process.stdout.write(
    `# int8 web vs node ${webVsNode.toExponential(2)}, vs f32 ${webVsF32.toExponential(2)}; ${clear.length}/${f32Logits.length} rows clear of a tie\n`,
  );
  assert.ok(
    clear.length >= f32Logits.length / 2,
    `only ${clear.length} of ${f32Logits.length} rows are clear of a tie: the check says little`,
  );
  const [w, n, f] = [labels(web), labels(node), labels(f32Logits)];
  for (const i of clear) assert.deepEqual([w[i], n[i]], [f[i], f[i]], `row ${i}: int8 web, int8 node vs f32 label`);
});

test('--adapters-as-inputs: the serving graph fed adapter-inputs.safetensors equals the baked model within 1e-5', async () => {
  const r = cli('export', '--base', base, '--adapter', adapter, '--out', exported('inputs'), '--adapters-as-inputs');
  assert.equal(r.code, 0, r.stderr);
  const packed = readSafetensors(join(exported('inputs'), 'adapter-inputs.safetensors'));
  const extra: Record<string, ort.Tensor> = { adapter_index: new ort.Tensor('int64', new BigInt64Array(rows.length), [rows.length]) };
  for (const [name, t] of packed.tensors) extra[name] = new ort.Tensor('float32', toFloat32(t, name), t.shape);
  const logits = await run(join(exported('inputs'), 'model.onnx'), extra);
  const diff = maxDiff(logits, f32Logits);
  assert.ok(diff <= 1e-5, `max |logit diff| adapters-as-inputs vs baked: ${diff}`);
  assert.match(readFileSync(join(exported('inputs'), 'README.md'), 'utf8'), /adapter_index/);
});

test('bad flags are refused with the flag named', async () => {
  const refuse = async (re: RegExp, o: Partial<ExportOptions>) =>
    assert.rejects(exportAdapter({ format: 'onnx', base, adapter, out: exported('bad'), ...o }), re);
  await refuse(/--base is required for --format onnx/, { base: undefined });
  await refuse(/--dtype must be one of f32, f16, got "bf16"/, { dtype: 'bf16' });
  await refuse(/--quantize must be int8, got "int4"/, { quantize: 'int4' });
  await refuse(/--quantize int8 with --dtype f16: choose one/, { quantize: 'int8', dtype: 'f16' });
  await refuse(/--model-name applies to --format adapterhub only/, { modelName: 'x' });
  await refuse(/--format must be one of onnx, adapterhub/, { format: 'tflite' });
  mkdirSync(exported('bad'));
  writeFileSync(join(exported('bad'), 'x'), '');
  await refuse(/--out .*: directory is not empty/, {});
  const other = join(work, 'other-base');
  writeTinyBert(other, { maxPositions: 32, vocabSize: 60, seed: 9 });
  await refuse(/trained on a base with weights sha256 [0-9a-f]{64}, but --base .* has [0-9a-f]{64}/, {
    base: other,
    out: exported('bad2'),
  });
  // Through the command line: one line on stderr, exit code 1.
  const full = join(work, 'full');
  assert.equal(train(full, '--mode full --max-steps 1 --quiet').code, 0);
  const r = cli('export', '--base', base, '--adapter', full, '--out', exported('bad3'), '--adapters-as-inputs');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: --adapters-as-inputs: .* full mode .*cannot run on the shared frozen base/);
  // Baked, a full-mode adapter exports fine.
  await exportAdapter({ format: 'onnx', base, adapter: full, out: exported('full-baked') });
  assert.ok(statSync(join(exported('full-baked'), 'model.onnx')).size > 0);
});

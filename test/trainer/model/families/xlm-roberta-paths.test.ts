/**
 * An XLM-R base (RoBERTa's family under model_type xlm-roberta) with its SentencePiece model, written here field by
 * field, through the paths: train and predict on text rows, the Node runtime (equal to predict within 1e-5), export
 * onnx (equal to predict within 1e-5 on the ids of its exported tokenizer.json, read by tokenizers.js) and export
 * --format adapterhub (XLMRobertaAdapterModel).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { createNodePredictor } from '../../../../serving/node.ts';
import { softmax } from '../../../../serving/runtime.ts';
import { Registry } from '../../../../shared/registry/index.ts';
import { writeRandomRoberta } from '../../../../trainer/model-files/random-roberta.ts';
import { PieceType } from '../../../../trainer/tokenizer/sentencepiece-model.ts';
import { runTrainerCliSync } from '../../../support/process.ts';

const work = mkdtempSync(join(tmpdir(), 'xlmr-paths-'));
const base = join(work, 'base');
const data = join(work, 'text.jsonl');
const adapter = join(work, 'adapter');
after(() => rmSync(work, { recursive: true, force: true }));

/** A Unigram SentencePiece ModelProto (sentencepiece_model.proto's field numbers), XLM-R's <unk> <s> </s> first. */
function xlmrModel(): Uint8Array {
  const pieces: [string, number, number?][] = [
    ['<unk>', 0, PieceType.UNKNOWN],
    ['<s>', 0, PieceType.CONTROL],
    ['</s>', 0, PieceType.CONTROL],
    ['▁', -2],
    ['▁hello', -1],
    ['▁world', -1],
    ...['h', 'e', 'l', 'o', 'w', 'r', 'd'].map((c): [string, number] => [c, -3]),
  ];
  const w = new BinaryWriter();
  for (const [piece, score, type] of pieces) {
    w.tag(1, WireType.LengthDelimited).fork();
    w.tag(1, WireType.LengthDelimited).string(piece);
    w.tag(2, WireType.Bit32).float(score);
    if (type !== undefined) w.tag(3, WireType.Varint).int32(type);
    w.join();
  }
  w.tag(2, WireType.LengthDelimited).fork().tag(3, WireType.Varint).int32(1).tag(40, WireType.Varint).int32(0).join();
  w.tag(3, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string('identity').join();
  return w.finish();
}

// fairseq ids: <s> 0, <pad> 1, </s> 2, <unk> 3, piece k -> k + 1 from piece 3 on (▁hello 5, ▁world 6), <mask> 14.
const TEXTS: { text: string; text_pair?: string; ids: number[] }[] = [
  { text: 'hello world', ids: [0, 5, 6, 2] },
  { text: 'world', text_pair: 'hello hello', ids: [0, 6, 2, 2, 5, 5, 2] },
  { text: 'held', ids: [0, 4, 7, 8, 9, 13, 2] },
  { text: 'hello', text_pair: 'word', ids: [0, 5, 2, 2, 4, 11, 10, 12, 13, 2] },
];
const N = 16;
const cli = (...args: string[]) => {
  const r = runTrainerCliSync(args);
  assert.equal(r.code, 0, `${args[0]}: ${r.stderr}`);
  return r;
};
const maxDiff = (a: number[][], b: number[][]) => Math.max(...a.flatMap((row, r) => row.map((v, k) => Math.abs(v - b[r][k]))));
let predicted: number[][] = [];

before(() => {
  writeRandomRoberta(base, { hiddenSize: 16, numLayers: 2, numHeads: 2, intermediateSize: 24, vocabSize: 20, maxSeqLen: 16, seed: 9 });
  const config = JSON.parse(readFileSync(join(base, 'config.json'), 'utf8'));
  writeFileSync(join(base, 'config.json'), JSON.stringify({ ...config, model_type: 'xlm-roberta', architectures: ['XLMRobertaModel'] }));
  writeFileSync(join(base, 'sentencepiece.bpe.model'), xlmrModel());
  const lines = Array.from({ length: N }, (_, i) => {
    const { ids: _ids, ...t } = TEXTS[i % TEXTS.length];
    return JSON.stringify({ ...t, label: i % 2 ? 'pos' : 'neg' });
  });
  writeFileSync(data, `${lines.join('\n')}\n`);
  cli(
    'train',
    '--base',
    base,
    '--data',
    data,
    '--out',
    adapter,
    '--task',
    'xt',
    '--epochs',
    '3',
    '--lr',
    '0.01',
    '--bottleneck',
    '3',
    '--quiet',
  );
  const preds = join(work, 'preds.jsonl');
  cli('predict', '--base', base, '--adapter', adapter, '--data', data, '--out', preds, '--batch-size', '5');
  predicted = readFileSync(preds, 'utf8')
    .trim()
    .split('\n')
    .map((l) => (JSON.parse(l) as { logits: number[] }).logits);
});

test("the Node runtime on the XLM-R base gives predict's probabilities within 1e-5", async () => {
  const registry = Registry.fromUri(pathToFileURL(join(work, 'store')).href);
  await registry.models.upload('xlmr', base, ['config.json', 'model.safetensors', 'sentencepiece.bpe.model']);
  const config = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8'));
  assert.equal(config.model_class, 'XLMRobertaAdapterModel');
  await registry.adapters.publish(adapter, {
    task: 'xt',
    jobId: null,
    baseModel: { name: 'xlmr', weightsSha256: config.base.weightsSha256 },
    mode: 'adapter',
    labels: config.labels,
    parameters: { trainable: 1, total: 2 },
    metrics: null,
  });
  const predictor = await createNodePredictor({ registry, threads: 1, maxWaitMs: 0 });
  try {
    const inputs = TEXTS.map((t) => (t.text_pair ? { text: t.text, text_pair: t.text_pair } : t.text));
    const res = await predictor.predict({ task: 'xt', inputs });
    const served = res.predictions.map((p) => config.labels.map((l: string) => p.probs[l]));
    const diff = maxDiff(
      served,
      predicted.slice(0, TEXTS.length).map((row) => Array.from(softmax(Float32Array.from(row)))),
    );
    assert.ok(diff <= 1e-5, `max |probability diff| served vs predict: ${diff}`);
  } finally {
    await predictor.close();
  }
});

test("export onnx: tokenizer.json gives XLM-R's ids, and the model gives predict's logits within 1e-5", async () => {
  const out = join(work, 'onnx');
  cli('export', '--base', base, '--adapter', adapter, '--out', out);
  const tok = new Tokenizer(JSON.parse(readFileSync(join(out, 'tokenizer.json'), 'utf8')), {});
  const rows = Array.from({ length: N }, (_, i) => {
    const t = TEXTS[i % TEXTS.length];
    const ids = tok.encode(t.text, { text_pair: t.text_pair ?? null }).ids;
    assert.deepEqual(ids, t.ids, `${t.text} | ${t.text_pair}`);
    return ids;
  });
  const S = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(N * S).fill(1n);
  const mask = new BigInt64Array(N * S);
  rows.forEach((r, i) =>
    r.forEach((id, t) => {
      ids[i * S + t] = BigInt(id);
      mask[i * S + t] = 1n;
    }),
  );
  const session = await ort.InferenceSession.create(join(out, 'model.onnx'), { intraOpNumThreads: 1 });
  const res = await session.run({
    input_ids: new ort.Tensor('int64', ids, [N, S]),
    attention_mask: new ort.Tensor('int64', mask, [N, S]),
    token_type_ids: new ort.Tensor('int64', new BigInt64Array(N * S), [N, S]),
  });
  await session.release();
  const flat = res.logits.data as Float32Array;
  const logits = Array.from({ length: N }, (_, r) => Array.from(flat.subarray(r * 2, r * 2 + 2)));
  assert.ok(maxDiff(logits, predicted) <= 1e-5, `max |logit diff| ${maxDiff(logits, predicted)}`);
});

test('export --format adapterhub names the library model XLMRobertaAdapterModel, with the RoBERTa head', () => {
  const out = join(work, 'hub');
  cli('export', '--format', 'adapterhub', '--adapter', adapter, '--out', out);
  const head = JSON.parse(readFileSync(join(out, 'head_config.json'), 'utf8'));
  assert.deepEqual(
    [head.model_type, head.model_class, head.config.layers, head.config.activation_function],
    ['xlm-roberta', 'XLMRobertaAdapterModel', 2, 'tanh'],
  );
});

/**
 * ELECTRA (embeddings narrower than the layers) and DistilBERT bases through the product's paths, by the CLI:
 * train in adapter mode on pre-tokenized rows (pairs and padding), predict and eval on the adapter, and the
 * paths not built for them (export onnx and adapterhub, the serving runtime) refusing them by name.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BaseError, parseBase } from '../../../../serving/base.ts';
import { writeRandomDistilbert } from '../../../../trainer/model-files/random-distilbert.ts';
import { writeRandomElectra } from '../../../../trainer/model-files/random-electra.ts';
import { readSafetensors } from '../../../../trainer/model-files/safetensors.ts';
import { runTrainerCliSync } from '../../../support/process.ts';

const work = mkdtempSync(join(tmpdir(), 'electra-distilbert-paths-'));
after(() => rmSync(work, { recursive: true, force: true }));

const MAX = 16;
const [CLS, SEP] = [2, 3];

/** [CLS] a [SEP] (b [SEP]) rows of lengths 4 to MAX; token types only when the family reads them. */
function rows(withTypes: boolean): string {
  const out: string[] = [];
  for (let i = 0; i < 20; i++) {
    const n = 2 + (i % (MAX - 3));
    const w = Array.from({ length: n }, (_, j) => 5 + ((i * 7 + j * 3) % 40));
    const pair = i % 3 === 0;
    const ids = (pair ? [CLS, w[0], SEP, ...w.slice(1), SEP] : [CLS, ...w, SEP]).slice(0, MAX);
    const types = ids.map((_, j) => (pair && j > 2 ? 1 : 0));
    out.push(JSON.stringify({ input_ids: ids, ...(withTypes ? { token_type_ids: types } : {}), label: i % 2 ? 'pos' : 'neg' }));
  }
  return `${out.join('\n')}\n`;
}

function cli(...args: string[]): string {
  const r = runTrainerCliSync([...args, '--threads', '1']);
  assert.equal(r.code, 0, `${args[0]} failed: ${r.stderr}`);
  return r.stdout;
}

const FAMILIES = [
  {
    modelType: 'electra',
    write: (dir: string) =>
      writeRandomElectra(dir, {
        hiddenSize: 16,
        embeddingSize: 8,
        numLayers: 2,
        numHeads: 2,
        intermediateSize: 24,
        vocabSize: 50,
        maxPositions: MAX,
        seed: 5,
        layerNormNoise: 0.1,
      }),
    withTypes: true,
    adapterTensor: 'electra.encoder.layer.1.output.adapters.sst.adapter_up.weight',
    layerNorm: 'electra.embeddings.LayerNorm.weight',
    head: ['classifier.dense.weight', 'classifier.dense.bias', 'classifier.out_proj.weight', 'classifier.out_proj.bias'],
  },
  {
    modelType: 'distilbert',
    write: (dir: string) =>
      writeRandomDistilbert(dir, {
        dim: 16,
        numLayers: 2,
        numHeads: 2,
        hiddenDim: 24,
        vocabSize: 50,
        maxPositions: MAX,
        seed: 6,
        layerNormNoise: 0.1,
      }),
    withTypes: false,
    adapterTensor: 'distilbert.transformer.layer.1.output_adapters.adapters.sst.adapter_up.weight',
    layerNorm: 'distilbert.transformer.layer.0.sa_layer_norm.weight',
    head: ['pre_classifier.weight', 'pre_classifier.bias', 'classifier.weight', 'classifier.bias'],
  },
];

for (const f of FAMILIES) {
  describe(f.modelType, () => {
    const base = join(work, `${f.modelType}-base`);
    const data = join(work, `${f.modelType}-rows.jsonl`);
    const adapter = join(work, `${f.modelType}-adapter`);
    before(() => {
      f.write(base);
      const words = ['good', 'bad', 'film', 'plot', 'great', 'dull', 'the', 'was', 'a', 'very'];
      writeFileSync(join(base, 'vocab.txt'), `${['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...words].join('\n')}\n`);
      writeFileSync(data, rows(f.withTypes));
      cli(
        'train',
        '--base',
        base,
        '--data',
        data,
        '--out',
        adapter,
        '--task',
        'sst',
        '--epochs',
        '2',
        '--bottleneck',
        '4',
        '--lr',
        '1e-2',
        '--quiet',
      );
    });

    test('train writes the family-named adapter, its LayerNorms and head', () => {
      const names = [...readSafetensors(join(adapter, 'adapter.safetensors')).tensors.keys()];
      assert.ok(names.includes(f.adapterTensor), names.join(', '));
      assert.ok(names.includes(f.layerNorm));
      for (const head of f.head) assert.ok(names.includes(head), head);
      assert.ok(!names.some((n) => n.startsWith('bert.') || n.includes('pooler')), names.join(', '));
      const config = JSON.parse(readFileSync(join(adapter, 'adapter_config.json'), 'utf8'));
      assert.equal(config.base.config.model_type, f.modelType);
      assert.equal(config.model_type, undefined, 'not labelled an AdapterHub BERT');
    });

    test('predict: a row padded in a batch gets the logits it gets alone', () => {
      const logitsAt = (batchSize: string) => {
        const out = join(work, `${f.modelType}-pred-${batchSize}.jsonl`);
        cli('predict', '--base', base, '--adapter', adapter, '--data', data, '--out', out, '--batch-size', batchSize);
        return readFileSync(out, 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l).logits as number[]);
      };
      const alone = logitsAt('1');
      const batched = logitsAt('32');
      assert.equal(alone.length, 20);
      const worst = Math.max(...alone.flatMap((row, r) => row.map((v, c) => Math.abs(v - batched[r][c]))));
      assert.ok(worst < 1e-5, `worst difference ${worst}`);
      assert.ok(new Set(alone.map((r) => r[0].toFixed(6))).size > 1, 'rows differ, so the comparison means something');
    });

    test('eval reports metrics over every row', () => {
      const out = join(work, `${f.modelType}-eval.json`);
      cli('eval', '--base', base, '--adapter', adapter, '--data', data, '--out', out);
      const m = JSON.parse(readFileSync(out, 'utf8'));
      assert.equal(m.examples, 20);
      assert.ok(m.accuracy >= 0 && m.accuracy <= 1);
    });

    for (const [format, path] of [
      ['onnx', 'export onnx'],
      ['adapterhub', 'export --format adapterhub'],
    ] as const) {
      test(`export --format ${format} is refused by name and writes nothing`, () => {
        const out = join(work, `${f.modelType}-export-${format}`);
        const r = runTrainerCliSync(['export', '--base', base, '--adapter', adapter, '--out', out, '--format', format]);
        assert.notEqual(r.code, 0);
        assert.ok(r.stderr.includes(`${path} is not yet supported for ${f.modelType} (supported for it: train, eval, predict)`), r.stderr);
        assert.ok(!existsSync(out));
      });
    }

    test('text rows are tokenized with the vocab.txt beside the weights (both families ship BERT WordPiece), pairs included', () => {
      const text = join(work, `${f.modelType}-text.jsonl`);
      const lines = [
        { text: 'a very good film', label: 'pos' },
        { text: 'the plot was dull', label: 'neg' },
        { text: 'great', text_pair: 'the film was great', label: 'pos' },
        { text: 'bad film', text_pair: 'a dull plot', label: 'neg' },
      ];
      writeFileSync(text, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
      const textAdapter = join(work, `${f.modelType}-text-adapter`);
      cli('train', '--base', base, '--data', text, '--out', textAdapter, '--task', 'txt', '--epochs', '1', '--bottleneck', '4', '--quiet');
      const out = join(work, `${f.modelType}-text-pred.jsonl`);
      cli('predict', '--base', base, '--adapter', textAdapter, '--data', text, '--out', out);
      const preds = readFileSync(out, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      assert.equal(preds.length, 4);
      assert.ok(preds.every((p) => p.logits.length === 2 && p.logits.every(Number.isFinite)));
    });

    test('upload-base takes the directory (config, weights by the family names map, vocab.txt)', () => {
      const store = join(work, `${f.modelType}-store`);
      const r = runTrainerCliSync(['upload-base', '--registry', `file://${store}`, '--name', 'b', '--dir', base]);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
      assert.deepEqual([out.layers, out.hiddenSize], [2, 16]);
      for (const file of ['config.json', 'model.safetensors', 'vocab.txt']) assert.ok(existsSync(join(store, 'models', 'b', file)), file);
    });

    test('the serving runtime refuses the base by name', async () => {
      const files = {
        config: readFileSync(join(base, 'config.json'), 'utf8'),
        weights: readFileSync(join(base, 'model.safetensors')),
        tokenizer: {},
      };
      await assert.rejects(
        parseBase('b', files),
        (e: Error) =>
          e instanceof BaseError && e.message.startsWith(`base "b": config.json: serving is not yet supported for ${f.modelType}`),
      );
    });
  });
}

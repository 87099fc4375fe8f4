/**
 * The training graph against an independent reference, with no PyTorch at test time: logits, loss and the
 * gradient of every trainable tensor that PyTorch (float64, HF BertModel semantics, Houlsby adapters placed
 * as the method says) computed for a tiny seeded model, committed as a fixture for every adapter
 * non-linearity. The project's other checks compare its graphs with its own forward; this one catches a
 * forward that is consistently wrong everywhere (an adapter after its LayerNorm, the wrong activation).
 * Regenerate: /usr/bin/python3 test/parity/write_forward_fixture.py
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { AdapterNonlinearity } from '../../../shared/adapter-config.ts';
import type { BertConfig } from '../../../shared/bert-config.ts';
import { toOnnxModel } from '../../../trainer/graph/onnx-export.ts';
import { ATTENTION_MASK, buildBertGraph, gradName, INPUT_IDS, LABELS, TOKEN_TYPE_IDS } from '../../../trainer/model/bert.ts';
import type { ModelSpec } from '../../../trainer/model/params.ts';
import { createSession, hostTensor, type ort } from '../../../trainer/sessions/session.ts';

interface Reference {
  logits: number[][];
  loss: number;
  grads: Record<string, number[]>;
}

interface Fixture {
  config: BertConfig;
  task: string;
  numLabels: number;
  bottleneck: number;
  adapterLayers: number[];
  batch: { inputIds: number[][]; tokenTypeIds: number[][]; attentionMask: number[][]; labels: number[] };
  parameters: Record<string, { shape: number[]; data: number[] }>;
  nonlinearities: Record<string, Reference>;
}

const fixture = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', '..', 'fixtures', 'pytorch-reference', 'bert-houlsby.json'), 'utf8'),
) as Fixture;

// Every member of the type, or tsc fails here: a new non-linearity needs a reference before it ships.
const NONLINEARITIES: Record<AdapterNonlinearity, true> = { gelu: true, relu: true, swish: true, tanh: true };

// float32 against float64 on values of order 1 through two layers: measured <= 7.4e-7; 1e-5 leaves room for kernel
// summation order. The mutations this guards against move logits by 1e-2 and more.
const LOGIT_TOLERANCE = 1e-5;
// Gradients, per tensor, relative to the tensor's largest entry: measured <= 2.5e-6.
const GRAD_TOLERANCE = 1e-4;

function feeds(): Record<string, ort.Tensor> {
  const { inputIds, tokenTypeIds, attentionMask, labels } = fixture.batch;
  const dims = [inputIds.length, inputIds[0].length];
  const out: Record<string, ort.Tensor> = {
    [INPUT_IDS]: hostTensor(BigInt64Array.from(inputIds.flat(), BigInt), dims),
    [TOKEN_TYPE_IDS]: hostTensor(BigInt64Array.from(tokenTypeIds.flat(), BigInt), dims),
    [ATTENTION_MASK]: hostTensor(Float32Array.from(attentionMask.flat()), dims),
    [LABELS]: hostTensor(BigInt64Array.from(labels, BigInt), [labels.length]),
  };
  for (const [name, p] of Object.entries(fixture.parameters)) out[name] = hostTensor(Float32Array.from(p.data), p.shape);
  return out;
}

async function ours(nonlinearity: AdapterNonlinearity) {
  const spec: ModelSpec = {
    config: fixture.config,
    task: fixture.task,
    numLabels: fixture.numLabels,
    mode: 'adapter',
    usesPooler: true,
    adapter: { bottleneck: fixture.bottleneck, nonlinearity, initStd: 0, layers: fixture.adapterLayers },
  };
  const built = buildBertGraph(spec, { training: true });
  assert.deepEqual(built.specs.map((s) => s.name).sort(), Object.keys(fixture.parameters).sort(), 'the fixture has every parameter');
  const session = await createSession(toOnnxModel(built.graph), { threads: 1 });
  const out = await session.run(feeds());
  await session.release();
  return { out, trainable: built.specs.filter((s) => s.trainable).map((s) => s.name) };
}

test('the fixture covers every adapter non-linearity the product accepts', () => {
  assert.deepEqual(Object.keys(fixture.nonlinearities).sort(), Object.keys(NONLINEARITIES).sort());
});

for (const nonlinearity of Object.keys(NONLINEARITIES) as AdapterNonlinearity[]) {
  test(`${nonlinearity} adapters: logits, loss and every trainable gradient equal PyTorch's`, async () => {
    const ref = fixture.nonlinearities[nonlinearity];
    const { out, trainable } = await ours(nonlinearity);
    const logits = out.logits.data as Float32Array;
    const expected = ref.logits.flat();
    const logitDiff = Math.max(...expected.map((v, i) => Math.abs(logits[i] - v)));
    assert.ok(logitDiff <= LOGIT_TOLERANCE, `max |logit - PyTorch| ${logitDiff}\nours ${[...logits]}\nPyTorch ${expected}`);
    const loss = (out.loss.data as Float32Array)[0];
    assert.ok(Math.abs(loss - ref.loss) <= LOGIT_TOLERANCE, `loss ${loss} vs PyTorch ${ref.loss}`);
    assert.deepEqual(trainable.sort(), Object.keys(ref.grads).sort(), 'the same tensors are trained');
    let worst = 0;
    for (const name of trainable) {
      const g = out[gradName(name)].data as Float32Array;
      const r = ref.grads[name];
      const scale = Math.max(...r.map(Math.abs), 1e-6);
      const error = Math.max(...r.map((v, i) => Math.abs(g[i] - v))) / scale;
      assert.ok(error <= GRAD_TOLERANCE, `${name}: relative gradient error ${error}`);
      worst = Math.max(worst, error);
    }
    process.stdout.write(`# ${nonlinearity}: max |logit diff| ${logitDiff.toExponential(2)}, worst gradient ${worst.toExponential(2)}\n`);
  });
}

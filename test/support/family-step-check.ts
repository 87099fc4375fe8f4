/**
 * The whole training step of a family's graph (float64, `basic` kernels) against central finite differences of
 * its loss, for every trainable tensor: used by every family test (roberta, electra, distilbert).
 */
import assert from 'node:assert/strict';
import type { TrainMode } from '../../shared/adapter-config.ts';
import type { BertConfig } from '../../shared/bert-config.ts';
import { toOnnxModel } from '../../trainer/graph/onnx-export.ts';
import { ATTENTION_MASK, buildBertGraph, gradName, INPUT_IDS, LABELS, TOKEN_TYPE_IDS } from '../../trainer/model/bert.ts';
import type { ModelSpec } from '../../trainer/model/params.ts';
import { createSession, hostTensor } from '../../trainer/sessions/session.ts';
import { centralDifferences, relativeError } from './finite-differences.ts';
import { randomArray } from './gradcheck.ts';

/** The model the family step checks train: 3 labels, gelu adapters of bottleneck 3 on layers 0 and 1, no pooler. */
export const stepSpec = (config: BertConfig, mode: TrainMode): ModelSpec => ({
  config,
  task: 'tiny',
  numLabels: 3,
  mode,
  usesPooler: false,
  adapter: { bottleneck: 3, nonlinearity: 'gelu', initStd: 0.5, layers: [0, 1] },
});

export interface StepBatch {
  inputIds: number[][];
  tokenTypeIds: number[][];
  attentionMask: number[][];
  labels: number[];
}

/**
 * Draws every parameter uniform in [-0.6, 0.6) (LayerNorm weights around 1), checks the analytic gradient of each
 * trainable tensor (at most `maxElementsPerParam` elements of each) and returns the trainable names and the worst
 * relative error, asserting it is below 1e-6. `isLayerNorm` names the family's LayerNorm weights.
 */
export async function checkStepAgainstFiniteDifferences(
  spec: ModelSpec,
  batch: StepBatch,
  isLayerNormWeight: (name: string) => boolean,
  maxElementsPerParam = Infinity,
): Promise<{ names: string[]; worst: number }> {
  const built = buildBertGraph(spec, { floatType: 'float64', kernels: 'basic', training: true });
  const session = await createSession(toOnnxModel(built.graph), { optimization: 'basic' });
  const lossOnly = await createSession(toOnnxModel(built.graph, 'loss', [built.loss!]), { optimization: 'basic' });
  const [B, S] = [batch.inputIds.length, batch.inputIds[0].length];
  const ints = (rows: number[][]) => hostTensor(BigInt64Array.from(rows.flat().map(BigInt)), [B, S]);
  const feeds: Record<string, ReturnType<typeof hostTensor>> = {
    [INPUT_IDS]: ints(batch.inputIds),
    [TOKEN_TYPE_IDS]: ints(batch.tokenTypeIds),
    [ATTENTION_MASK]: hostTensor(Float64Array.from(batch.attentionMask.flat()), [B, S]),
    [LABELS]: hostTensor(BigInt64Array.from(batch.labels.map(BigInt)), [B]),
  };
  const values = new Map<string, Float64Array>();
  built.specs.forEach((p, i) => {
    const data = randomArray(
      p.shape.reduce((a, b) => a * b, 1),
      2000 + i,
      -0.6,
      0.6,
    );
    if (isLayerNormWeight(p.name)) data.forEach((v, j) => (data[j] = 1 + v));
    values.set(p.name, data);
    feeds[p.name] = hostTensor(data, p.shape);
  });
  const out = await session.run(feeds);
  const names = built.specs.filter((s) => s.trainable).map((s) => s.name);
  assert.deepEqual([...built.grads.keys()].sort(), [...names].sort());
  let worst = 0;
  for (const name of names) {
    const x = values.get(name)!;
    const stride = Math.max(1, Math.floor(x.length / maxElementsPerParam));
    // Floor 1e-3: the key bias has an exactly-zero gradient (softmax shift invariance).
    const fd = await centralDifferences(x, async () => (await lossOnly.run(feeds)).loss.data[0] as number, { h: 1e-6, stride });
    const error = relativeError(out[gradName(name)].data as Float64Array, fd, 1e-3);
    if (error > 1e-6) console.log(`# ${name}: ${error}`);
    worst = Math.max(worst, error);
  }
  assert.ok(worst < 1e-6, `max relative error ${worst}`);
  return { names, worst };
}

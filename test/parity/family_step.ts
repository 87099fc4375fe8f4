/**
 * Our training step for the family parity check (family_parity.py): loads <dir>/base as the trainer does
 * (loadBaseModel: config.json by model_type, model.safetensors through the family's names map), reads the
 * tensors the base does not hold (adapters, head) from <dir>/extra.safetensors under our names, builds the
 * family's training graph in float32 with the fused kernels training runs, and writes <dir>/ours.json:
 * {names: [every parameter], logits: [[...]], loss, grads: {name: [...]}} for the trainable ones.
 * <dir>/step.json: {mode, task, numLabels, layers, bottleneck, input_ids, token_type_ids, attention_mask, labels}.
 *
 *   node --import tsx test/parity/family_step.ts <dir>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TrainMode } from '../../shared/adapter-config.ts';
import { toOnnxModel } from '../../trainer/graph/onnx-export.ts';
import { ATTENTION_MASK, buildBertGraph, gradName, INPUT_IDS, LABELS, TOKEN_TYPE_IDS } from '../../trainer/model/bert.ts';
import type { ModelSpec } from '../../trainer/model/params.ts';
import { loadBaseModel } from '../../trainer/model-files/base-model.ts';
import { readSafetensors, toFloat32 } from '../../trainer/model-files/safetensors.ts';
import { createSession, hostTensor, type ort } from '../../trainer/sessions/session.ts';

interface Step {
  mode: TrainMode;
  task: string;
  numLabels: number;
  layers: number[];
  bottleneck: number;
  input_ids: number[][];
  token_type_ids: number[][];
  attention_mask: number[][];
  labels: number[];
}

const dir = process.argv[2];
const step = JSON.parse(readFileSync(join(dir, 'step.json'), 'utf8')) as Step;
const base = loadBaseModel(join(dir, 'base'));
const extra = readSafetensors(join(dir, 'extra.safetensors')).tensors;
const spec: ModelSpec = {
  config: base.config,
  task: step.task,
  numLabels: step.numLabels,
  mode: step.mode,
  usesPooler: base.hasPooler,
  adapter: { bottleneck: step.bottleneck, nonlinearity: 'gelu', initStd: 1e-3, layers: step.layers },
};
const built = buildBertGraph(spec, { training: true });
const session = await createSession(toOnnxModel(built.graph), { optimization: 'all', threads: 1 });
const feeds: Record<string, ort.Tensor> = {};
for (const p of built.specs) {
  const fromBase = p.baseName === null ? undefined : base.weights.get(p.baseName)?.data;
  const raw = extra.get(p.name);
  const data = fromBase ?? (raw ? toFloat32(raw, p.name) : undefined);
  if (!data) throw new Error(`no value for ${p.name} (base: ${p.baseName ?? 'none'})`);
  feeds[p.name] = hostTensor(Float32Array.from(data), p.shape);
}
const [B, S] = [step.input_ids.length, step.input_ids[0].length];
const ints = (rows: number[][]) => hostTensor(BigInt64Array.from(rows.flat().map(BigInt)), [B, S]);
feeds[INPUT_IDS] = ints(step.input_ids);
feeds[TOKEN_TYPE_IDS] = ints(step.token_type_ids);
feeds[ATTENTION_MASK] = hostTensor(Float32Array.from(step.attention_mask.flat()), [B, S]);
feeds[LABELS] = hostTensor(BigInt64Array.from(step.labels.map(BigInt)), [B]);
const out = await session.run(feeds);
const logits = Array.from(out.logits.data as Float32Array);
const grads: Record<string, number[]> = {};
for (const name of built.grads.keys()) grads[name] = Array.from(out[gradName(name)].data as Float32Array);
writeFileSync(
  join(dir, 'ours.json'),
  JSON.stringify({
    names: built.specs.map((p) => p.name),
    logits: Array.from({ length: B }, (_, b) => logits.slice(b * step.numLabels, (b + 1) * step.numLabels)),
    loss: Number(out.loss.data[0]),
    grads,
  }),
);

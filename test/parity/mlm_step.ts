/**
 * Our masked-LM step for the PyTorch parity check (bert_mlm_parity.py): reads <dir>/config.json,
 * <dir>/params.safetensors (every MLM parameter, HF names) and <dir>/batch.json ({input_ids: [[...]],
 * positions: [flat b·S + s], labels: [...]}), runs the MLM graph of trainer/pretrain/graph.ts in float64
 * (basic kernels, as the other float64 checks) and in float32 (the fused graph training runs), and writes
 * <dir>/ours.json: {f64|f32: {loss, correct, grads: {name: [...]}}}.
 *
 *   node --import tsx test/parity/mlm_step.ts <dir>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toOnnxModel } from '../../trainer/graph/onnx-export.ts';
import { ATTENTION_MASK, gradName, INPUT_IDS, TOKEN_TYPE_IDS } from '../../trainer/model/bert.ts';
import { readBertConfig } from '../../trainer/model-files/bert-config.ts';
import { readSafetensors, toFloat32 } from '../../trainer/model-files/safetensors.ts';
import { buildMlmGraph, MASKED_POSITIONS, MASKED_TARGETS, PREDICTIONS } from '../../trainer/pretrain/graph.ts';
import { createSession, hostTensor, type ort } from '../../trainer/sessions/session.ts';

const dir = process.argv[2];
const config = readBertConfig(dir);
const file = readSafetensors(join(dir, 'params.safetensors'));
const batch = JSON.parse(readFileSync(join(dir, 'batch.json'), 'utf8')) as { input_ids: number[][]; positions: number[]; labels: number[] };
const [B, S, M, V] = [batch.input_ids.length, batch.input_ids[0].length, batch.labels.length, config.vocab_size];

const result: Record<string, unknown> = {};
for (const floatType of ['float64', 'float32'] as const) {
  const built = buildMlmGraph(config, floatType === 'float64' ? { floatType, kernels: 'basic' } : {});
  const session = await createSession(toOnnxModel(built.graph), { optimization: floatType === 'float64' ? 'basic' : 'all', threads: 1 });
  const feeds: Record<string, ort.Tensor> = {};
  for (const p of built.params) {
    const raw = file.tensors.get(p.name);
    if (!raw) throw new Error(`params.safetensors: no ${p.name}`);
    const f32 = toFloat32(raw, p.name);
    feeds[p.name] = hostTensor(floatType === 'float64' ? Float64Array.from(f32) : Float32Array.from(f32), p.shape);
  }
  feeds[INPUT_IDS] = hostTensor(BigInt64Array.from(batch.input_ids.flat().map(BigInt)), [B, S]);
  feeds[TOKEN_TYPE_IDS] = hostTensor(new BigInt64Array(B * S), [B, S]);
  feeds[ATTENTION_MASK] = hostTensor(floatType === 'float64' ? new Float64Array(B * S).fill(1) : new Float32Array(B * S).fill(1), [B, S]);
  feeds[MASKED_POSITIONS] = hostTensor(BigInt64Array.from(batch.positions.map(BigInt)), [M]);
  feeds[MASKED_TARGETS] = hostTensor(BigInt64Array.from(batch.labels.map((t, i) => BigInt(i * V + t))), [M]);
  const out = await session.run(feeds);
  const predicted = Array.from(out[PREDICTIONS].data as BigInt64Array, Number);
  result[floatType === 'float64' ? 'f64' : 'f32'] = {
    loss: Number(out.loss.data[0]),
    correct: predicted.filter((p, i) => p === batch.labels[i]).length,
    grads: Object.fromEntries(built.params.map((p) => [p.name, Array.from(out[gradName(p.name)].data as Float64Array | Float32Array)])),
  };
  await session.release();
}
writeFileSync(join(dir, 'ours.json'), JSON.stringify(result));

/**
 * The profile parser on a real onnxruntime CPU profile (a tiny BERT's training step), and on hand-written
 * events for what a CUDA profile would show: heavy nodes that fell back to the CPU are named.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parameterSpecs } from '../../../trainer/model/params.ts';
import { doctorSpec } from '../../../trainer/sessions/doctor.ts';
import { ModelSessions } from '../../../trainer/sessions/model-sessions.ts';
import { checkPlacement, heavyKind, parseProfile } from '../../../trainer/sessions/profile.ts';

async function cpuTrainingProfile(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'profile-test-'));
  try {
    const values = new Map(
      parameterSpecs(doctorSpec).map((p) => [
        p.name,
        Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i) / 10),
      ]),
    );
    const sessions = await ModelSessions.create(doctorSpec, values, {
      device: 'cpu',
      dropout: 0,
      seed: 0,
      threads: 1,
      profilePrefix: `${dir}/`,
    });
    const n = 2 * 5;
    await sessions.step({
      batchSize: 2,
      seqLen: 5,
      inputIds: BigInt64Array.from({ length: n }, (_, i) => BigInt(1 + i)),
      tokenTypeIds: new BigInt64Array(n),
      attentionMask: new Float32Array(n).fill(1),
      labels: BigInt64Array.from([0n, 2n]),
    });
    sessions.endProfiling();
    await sessions.release();
    const file = readdirSync(dir).find((f) => f.startsWith('bert_train_') && f.endsWith('.json'));
    assert.ok(file, `no training profile among ${readdirSync(dir)}`);
    return readFileSync(join(dir, file), 'utf8');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('a CPU profile of the training step: every node on CPUExecutionProvider, the heavy ones counted by kind', async () => {
  const nodes = parseProfile(await cpuTrainingProfile());
  assert.ok(nodes.length > 100, `${nodes.length} nodes`);
  assert.equal(new Set(nodes.map((n) => n.node)).size, nodes.length, 'one entry per node');
  assert.deepEqual([...new Set(nodes.map((n) => n.provider))], ['CPUExecutionProvider']);
  const check = checkPlacement(nodes, 'CPUExecutionProvider');
  assert.deepEqual(check.misplaced, []);
  // A BERT step has matrix products, attention softmaxes and LayerNorms: each kind shows up.
  for (const kind of ['gemm', 'matmul', 'attention', 'normalization'] as const) assert.ok((check.heavy.get(kind) ?? 0) > 0, kind);
  assert.equal(check.ops.get('LayerNormalization')?.get('CPUExecutionProvider'), 2 * 2 + 1);
  // What the doctor demands on CUDA: on this profile, every heavy node would be a failure, and nothing else.
  const onCuda = checkPlacement(nodes, 'CUDAExecutionProvider');
  const heavy = nodes.filter((n) => heavyKind(n.op) !== null);
  assert.deepEqual(onCuda.misplaced, heavy);
  assert.ok(nodes.some((n) => n.op === 'Reshape') && !onCuda.misplaced.some((n) => n.op === 'Reshape'));
});

const event = (name: string, op: string, provider: string, cat = 'Node') => ({ cat, name, ph: 'X', args: { op_name: op, provider } });

test('hand-written events: kernel times only, one entry per node over runs, the CPU fallbacks of a CUDA run named', () => {
  const text = JSON.stringify([
    { cat: 'Session', name: 'session_initialization', args: {} },
    event('MatMul_3_fence_before', 'MatMul', 'CUDAExecutionProvider'),
    event('MatMul_3_kernel_time', 'MatMul', 'CUDAExecutionProvider'),
    event('MatMul_3_kernel_time', 'MatMul', 'CUDAExecutionProvider'),
    event('LayerNormalization_8_kernel_time', 'LayerNormalization', 'CPUExecutionProvider'),
    event('Memcpy_token_1_kernel_time', 'MemcpyFromHost', 'CUDAExecutionProvider'),
    event('Shape_2_kernel_time', 'Shape', 'CPUExecutionProvider'),
  ]);
  const nodes = parseProfile(text);
  assert.deepEqual(nodes, [
    { node: 'MatMul_3', op: 'MatMul', provider: 'CUDAExecutionProvider' },
    { node: 'LayerNormalization_8', op: 'LayerNormalization', provider: 'CPUExecutionProvider' },
    { node: 'Memcpy_token_1', op: 'MemcpyFromHost', provider: 'CUDAExecutionProvider' },
    { node: 'Shape_2', op: 'Shape', provider: 'CPUExecutionProvider' },
  ]);
  const check = checkPlacement(nodes, 'CUDAExecutionProvider');
  assert.deepEqual(check.misplaced, [nodes[1]]);
  assert.deepEqual(
    [...check.heavy],
    [
      ['matmul', 1],
      ['normalization', 1],
    ],
  );
});

test('a malformed profile is refused with what is wrong', () => {
  assert.throws(() => parseProfile('{"traceEvents": []', 'p.json'), /^Error: p\.json: not JSON/);
  assert.throws(() => parseProfile('{}', 'p.json'), /p\.json: expected onnxruntime's array of trace events/);
  assert.throws(() => parseProfile('[3]', 'p.json'), /p\.json: event 0 is not an object/);
  assert.throws(
    () => parseProfile(JSON.stringify([{ cat: 'Node', name: 'Gemm_1_kernel_time', args: {} }]), 'p.json'),
    /node event "Gemm_1_kernel_time" has no args\.op_name/,
  );
  assert.throws(
    () =>
      parseProfile(
        JSON.stringify([
          event('Gemm_1_kernel_time', 'Gemm', 'CUDAExecutionProvider'),
          event('Gemm_1_kernel_time', 'Gemm', 'CPUExecutionProvider'),
        ]),
      ),
    /node "Gemm_1" ran on both CUDAExecutionProvider and CPUExecutionProvider/,
  );
});

/**
 * `trainer doctor` on the CPU (the checks it would make on CUDA, with CPUExecutionProvider), and on CUDA
 * where there is none: the existing clear error when the provider is not installed, and the doctor's
 * reason when it is installed but broken (a copy of onnxruntime-node with a garbage provider library).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { formatDoctorReport, LOSS_TOLERANCE, runDoctor } from '../../../trainer/sessions/doctor.ts';
import { brokenCudaProviderCopy } from '../../support/onnxruntime-copy.ts';
import { runTrainerCliSync } from '../../support/process.ts';

test('on the CPU the CUDA-shaped sessions match the CPU design step for step, and every heavy node ran on the CPU provider', async () => {
  const r = await runDoctor({ device: 'cpu', threads: 1 });
  assert.deepEqual(r.failures, []);
  assert.equal(r.provider, 'CPUExecutionProvider');
  assert.equal(r.frozenWeights, 'initializers');
  assert.deepEqual(r.trainInputs.frozen, []);
  assert.deepEqual(r.trainInputs.batch, ['input_ids', 'token_type_ids', 'attention_mask', 'labels']);
  // Adapters (2 layers x 2 sites x 4 tensors), LayerNorms ((1 + 2 x 2) x 2) and the classifier (2).
  assert.equal(r.trainInputs.trainable.length, 16 + 10 + 2);
  assert.equal(r.losses.device.length, 2);
  assert.deepEqual(r.losses.device, r.losses.cpu);
  assert.ok(r.losses.device[1] < r.losses.device[0], `the second step (after the first update) has a lower loss: ${r.losses.device}`);
  assert.equal(r.logitDifference, 0);
  assert.deepEqual([...r.placement.keys()].sort(), ['bert_infer', 'bert_train']);
  for (const check of r.placement.values()) {
    assert.deepEqual(check.misplaced, []);
    assert.ok((check.heavy.get('gemm') ?? 0) > 0 && (check.heavy.get('normalization') ?? 0) > 0);
  }
  const text = formatDoctorReport(r);
  assert.match(text, /training session inputs: 4 batch \+ 28 trainable \+ 0 frozen/);
  assert.match(text, /bert_train: heavy nodes \(.*\) must run on CPUExecutionProvider: 0 did not/);
  assert.match(text, /ok: cpu passes\n$/);
});

test('the report names each failure: a loss off by more than the tolerance, a heavy node on the wrong provider', async () => {
  const r = await runDoctor({ device: 'cpu', threads: 1 });
  const train = r.placement.get('bert_train')!;
  const forged = {
    ...r,
    failures: [
      `step 2: loss 0.7 on cuda, 0.6 on cpu (tolerance ${LOSS_TOLERANCE} relative)`,
      'bert_train: Gemm node Gemm_3 ran on CPUExecutionProvider',
    ],
    placement: new Map([['bert_train', { ...train, misplaced: [{ node: 'Gemm_3', op: 'Gemm', provider: 'CPUExecutionProvider' }] }]]),
  };
  const text = formatDoctorReport(forged);
  assert.match(text, /must run on CPUExecutionProvider: 1 did not/);
  assert.match(
    text,
    /FAILED on cpu:\n {2}- step 2: loss 0\.7 on cuda, 0\.6 on cpu .*\n {2}- bert_train: Gemm node Gemm_3 ran on CPUExecutionProvider\n$/,
  );
});

test('trainer doctor prints the report and exits 0 on the CPU', () => {
  const r = runTrainerCliSync(['doctor', '--device', 'cpu', '--threads', '1']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^trainer doctor --device cpu: /);
  assert.match(r.stdout, /ok: cpu passes/);
});

test('trainer doctor --device cuda without the CUDA provider installed: the existing clear error, exit 1', () => {
  const r = runTrainerCliSync(['doctor', '--device', 'cuda']);
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    /--device cuda: this onnxruntime-node install has no CUDA execution provider \(libonnxruntime_providers_cuda\.so is missing\)/,
  );
  assert.equal(r.stdout, '');
});

test('trainer doctor --device cuda with a broken provider library: fails naming the library and why', () => {
  const copy = brokenCudaProviderCopy();
  try {
    const r = spawnSync(process.execPath, [...copy.nodeArgs, 'trainer/cli.ts', 'doctor', '--device', 'cuda'], {
      encoding: 'utf8',
      env: { ...process.env, ...copy.env },
    });
    assert.equal(r.status, 1, r.stderr);
    const error = r.stderr.split('\n').find((l) => l.startsWith('error: '));
    assert.ok(error, r.stderr);
    assert.ok(error.includes(`the CUDA execution provider did not load`), error);
    assert.ok(error.includes(`onnxruntime could not use ${copy.cudaProvider}`), error);
  } finally {
    copy.remove();
  }
});

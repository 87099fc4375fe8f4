/**
 * `trainer doctor`: does training on this device compute what the CPU computes, on that device? Two
 * training steps (and one eval batch) of a tiny random BERT + adapters through ModelSessions, as a job
 * builds them (on CUDA: frozen weights as initializers), against the same steps on the CPU with the frozen
 * weights fed as inputs; and onnxruntime's profile of the device's run, which must show every matrix
 * product, attention and normalisation node on the device's provider. On CPU the same checks run with
 * CPUExecutionProvider: they prove the CUDA-shaped sessions compute what the CPU design computes.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { BertConfig } from '../../shared/bert-config.ts';
import { ATTENTION_MASK, INPUT_IDS, LABELS, TOKEN_TYPE_IDS } from '../model/bert.ts';
import { type ModelSpec, parameterSpecs } from '../model/params.ts';
import { Rng } from '../util/random.ts';
import { type FrozenWeights, ModelSessions, type TokenBatch } from './model-sessions.ts';
import { checkPlacement, type NodeRun, type PlacementCheck, parseProfile } from './profile.ts';
import { checkDevice, cudaProviderPath, type Device } from './session.ts';

export const PROVIDERS: Record<Device, string> = { cpu: 'CPUExecutionProvider', cuda: 'CUDAExecutionProvider' };

/**
 * |loss(device) − loss(cpu)| allowed, relative to max(1, |loss(cpu)|). onnxruntime's CUDA provider runs
 * float32 matrix products in TF32 on Ampere and newer (10-bit mantissa, ~5e-4 relative per product).
 */
export const LOSS_TOLERANCE = 2e-3;

const STEPS = 2;
const LEARNING_RATE = 0.5;

const BATCH_INPUTS = [INPUT_IDS, TOKEN_TYPE_IDS, ATTENTION_MASK, LABELS];

export interface DoctorReport {
  device: Device;
  provider: string;
  frozenWeights: FrozenWeights;
  /** The training session's inputs, sorted into the batch, trainable parameters and anything else (frozen weights fed per run). */
  trainInputs: { batch: string[]; trainable: string[]; frozen: string[] };
  /** Loss of each step, on the device and on the CPU reference; then the largest logit difference of one eval batch. */
  losses: { device: number[]; cpu: number[] };
  logitDifference: number;
  /** Per session profiled (bert_train, bert_infer). */
  placement: Map<string, PlacementCheck>;
  /** Empty when the device passed; otherwise each reason, one line each. */
  failures: string[];
}

export class DoctorFailure extends Error {}

const tinyConfig: BertConfig = {
  vocab_size: 50,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
  hidden_act: 'gelu',
  max_position_embeddings: 16,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
};

/** Adapter mode with trained LayerNorms: frozen base, trainable adapters, LayerNorms and head, as a job trains. */
export const doctorSpec: ModelSpec = {
  config: tinyConfig,
  task: 'doctor',
  numLabels: 3,
  mode: 'adapter',
  usesPooler: true,
  adapter: { bottleneck: 4, nonlinearity: 'gelu', initStd: 0.1, layers: [0, 1], trainLayernorms: true },
};

function randomValues(spec: ModelSpec, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const values = new Map<string, Float32Array>();
  for (const p of parameterSpecs(spec)) {
    const data = Float32Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, () => rng.normal() * 0.1);
    if (p.name.includes('LayerNorm.weight')) for (let i = 0; i < data.length; i++) data[i] += 1;
    values.set(p.name, data);
  }
  return values;
}

/** Four sequences of 8 tokens, two of them padded: padding is part of what runs in training. */
function doctorBatch(seed: number): TokenBatch {
  const rng = new Rng(seed);
  const [B, S] = [4, 8];
  const lengths = [8, 5, 8, 3];
  const attentionMask = new Float32Array(B * S);
  const inputIds = new BigInt64Array(B * S);
  const tokenTypeIds = new BigInt64Array(B * S);
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < lengths[b]; s++) {
      attentionMask[b * S + s] = 1;
      inputIds[b * S + s] = BigInt(1 + rng.int(tinyConfig.vocab_size - 1));
      tokenTypeIds[b * S + s] = s >= lengths[b] / 2 ? 1n : 0n;
    }
  }
  const labels = BigInt64Array.from({ length: B }, () => BigInt(rng.int(doctorSpec.numLabels)));
  return { batchSize: B, seqLen: S, inputIds, tokenTypeIds, attentionMask, labels };
}

interface RunResult {
  losses: number[];
  logits: Float32Array;
  inputNames: readonly string[];
  frozenWeights: FrozenWeights;
}

/** Two SGD steps and one eval batch: the second loss depends on the first step's every gradient. */
async function twoSteps(
  device: Device,
  frozenWeights: FrozenWeights | undefined,
  threads: number | undefined,
  profilePrefix?: string,
): Promise<RunResult> {
  const values = randomValues(doctorSpec, 7);
  let sessions: ModelSessions;
  try {
    sessions = await ModelSessions.create(doctorSpec, values, { device, dropout: 0, seed: 0, threads, frozenWeights, profilePrefix });
  } catch (err) {
    // Creating a CUDA session is where onnxruntime loads the provider library (and CUDA with it).
    if (device === 'cuda') throw new DoctorFailure(providerLoadFailure(err as Error));
    throw err;
  }
  try {
    const batch = doctorBatch(11);
    const losses: number[] = [];
    for (let i = 0; i < STEPS; i++) {
      const { loss, grads } = await sessions.step(batch);
      losses.push(loss);
      for (const [name, g] of grads) {
        const w = values.get(name)!;
        for (let j = 0; j < w.length; j++) w[j] -= LEARNING_RATE * g[j];
      }
    }
    const logits = await sessions.logits(batch);
    if (profilePrefix !== undefined) sessions.endProfiling();
    return { losses, logits, inputNames: sessions.inputNames.train ?? [], frozenWeights: sessions.frozenWeights };
  } finally {
    await sessions.release();
  }
}

/** Profiles written under `dir`, by session name (the file prefix before onnxruntime's timestamp). */
function readProfiles(dir: string): Map<string, NodeRun[]> {
  const out = new Map<string, NodeRun[]>();
  for (const f of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const session = f.replace(/_\d{4}-\d\d-\d\d_.*$/, '');
    out.set(session, parseProfile(readFileSync(join(dir, f), 'utf8'), f));
  }
  return out;
}

/** Why a CUDA session could not be created, with where to look (the provider libraries and their dependencies). */
function providerLoadFailure(err: Error): string {
  const provider = cudaProviderPath();
  const shared = join(dirname(provider), 'libonnxruntime_providers_shared.so');
  const missing = existsSync(shared) ? '' : `; ${shared} is missing`;
  return (
    `the CUDA execution provider did not load (${err.message}): onnxruntime could not use ${provider}${missing} ` +
    '(a broken or partial install, or missing CUDA 12 / cuDNN 9 libraries: run ldd on it)'
  );
}

export async function runDoctor(o: { device: Device; threads?: number }): Promise<DoctorReport> {
  checkDevice(o.device);
  const provider = PROVIDERS[o.device];
  const profiles = mkdtempSync(join(tmpdir(), 'trainer-doctor-'));
  try {
    // On CPU the run under test is the CUDA shape (initializers); the reference is the CPU design (inputs).
    const run = await twoSteps(o.device, o.device === 'cpu' ? 'initializers' : undefined, o.threads, `${profiles}/`);
    const reference = await twoSteps('cpu', 'inputs', o.threads);
    const failures: string[] = [];

    const trainable = new Set(
      parameterSpecs(doctorSpec)
        .filter((p) => p.trainable)
        .map((p) => p.name),
    );
    const trainInputs = {
      batch: run.inputNames.filter((n) => BATCH_INPUTS.includes(n)),
      trainable: run.inputNames.filter((n) => trainable.has(n)),
      frozen: run.inputNames.filter((n) => !BATCH_INPUTS.includes(n) && !trainable.has(n)),
    };
    if (trainInputs.frozen.length > 0)
      failures.push(
        `${trainInputs.frozen.length} frozen weights are inputs of the training session (fed on every step): ${trainInputs.frozen[0]}, ...`,
      );

    run.losses.forEach((loss, i) => {
      const ref = reference.losses[i];
      if (!(Math.abs(loss - ref) <= LOSS_TOLERANCE * Math.max(1, Math.abs(ref))))
        failures.push(`step ${i + 1}: loss ${loss} on ${o.device}, ${ref} on cpu (tolerance ${LOSS_TOLERANCE} relative)`);
    });
    let logitDifference = 0;
    run.logits.forEach((v, i) => (logitDifference = Math.max(logitDifference, Math.abs(v - reference.logits[i]))));
    if (!(logitDifference <= LOSS_TOLERANCE)) failures.push(`eval logits differ from the cpu's by up to ${logitDifference}`);

    const placement = new Map<string, PlacementCheck>();
    for (const [session, nodes] of readProfiles(profiles)) placement.set(session, checkPlacement(nodes, provider));
    for (const session of ['bert_train', 'bert_infer']) {
      const check = placement.get(session);
      if (!check) failures.push(`no onnxruntime profile of ${session} was written`);
      else if (check.heavy.size === 0) failures.push(`the profile of ${session} shows no matrix product: it proves nothing`);
      for (const n of check?.misplaced ?? [])
        failures.push(
          `${session}: ${n.op} node ${n.node} ran on ${n.provider}, not ${provider} (no kernel there: it falls back with device copies)`,
        );
    }
    return {
      device: o.device,
      provider,
      frozenWeights: run.frozenWeights,
      trainInputs,
      losses: { device: run.losses, cpu: reference.losses },
      logitDifference,
      placement,
      failures,
    };
  } finally {
    rmSync(profiles, { recursive: true, force: true });
  }
}

export function formatDoctorReport(r: DoctorReport): string {
  const lines = [
    `trainer doctor --device ${r.device}: a tiny BERT (${tinyConfig.num_hidden_layers} layers, hidden ${tinyConfig.hidden_size}) + adapters, ${STEPS} SGD steps and one eval batch`,
    `frozen weights: ${r.frozenWeights}; training session inputs: ${r.trainInputs.batch.length} batch + ${r.trainInputs.trainable.length} trainable + ${r.trainInputs.frozen.length} frozen`,
    ...r.losses.device.map(
      (l, i) => `step ${i + 1} loss: ${r.device} ${l.toPrecision(8)}, cpu reference ${r.losses.cpu[i].toPrecision(8)}`,
    ),
    `eval logits: largest difference ${r.logitDifference.toExponential(2)} (tolerance ${LOSS_TOLERANCE})`,
  ];
  for (const [session, check] of r.placement) {
    const heavy = [...check.heavy].map(([k, n]) => `${n} ${k}`).join(', ');
    lines.push(`${session}: heavy nodes (${heavy}) must run on ${check.provider}: ${check.misplaced.length} did not`);
    const ops = [...check.ops]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([op, per]) => `${op} ${[...per].map(([p, n]) => (p === check.provider ? `${n}` : `${n} on ${p}`)).join(' + ')}`);
    lines.push(`  ops: ${ops.join(', ')}`);
  }
  lines.push(r.failures.length === 0 ? `ok: ${r.device} passes` : `FAILED on ${r.device}:`, ...r.failures.map((f) => `  - ${f}`));
  return `${lines.join('\n')}\n`;
}

let preflightRun: Promise<void> | undefined;

/**
 * What run-job does before training on CUDA: the doctor, once per process (a local sweep's points share
 * it). A failure throws with the doctor's reasons, so the job fails with them instead of running slowly.
 */
export function preflight(device: Device, threads?: number): Promise<void> {
  if (device === 'cpu') return Promise.resolve();
  preflightRun ??= runDoctor({ device, threads }).then(
    (r) => {
      if (r.failures.length > 0) throw new DoctorFailure(`trainer doctor --device ${device} failed: ${r.failures.join('; ')}`);
    },
    (err: Error) => {
      throw new DoctorFailure(`trainer doctor --device ${device} failed: ${err.message}`);
    },
  );
  return preflightRun;
}

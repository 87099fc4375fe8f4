/**
 * The two onnxruntime sessions of a model — the training step (loss + trainable gradients) and
 * inference (logits) — fed from one set of parameter arrays. Trainable parameters are graph inputs
 * wrapping the Float32Arrays without a copy: both sessions share them, and the optimizer's in-place
 * updates are what the next run sees. Frozen weights are either inputs too (CPU: zero-copy, nothing
 * moves) or initializers baked into each session (CUDA: uploaded to the device once, at creation,
 * instead of host-to-device on every run — onnxruntime-node has no CUDA IO binding to keep an input there).
 */

import { toOnnxModel } from '../graph/onnx-export.ts';
import { ATTENTION_MASK, type BertGraph, buildBertGraph, gradName, INPUT_IDS, LABELS, TOKEN_TYPE_IDS } from '../model/bert.ts';
import type { ModelSpec, ParamSpec } from '../model/params.ts';
import { createSession, type Device, hostTensor, type ort } from './session.ts';

export interface TokenBatch {
  batchSize: number;
  seqLen: number;
  inputIds: BigInt64Array;
  tokenTypeIds: BigInt64Array;
  /** 1 for real tokens, 0 for padding. */
  attentionMask: Float32Array;
  labels: BigInt64Array | null;
}

/**
 * Where the frozen (non-trainable) weights live. `inputs`: fed on every run from the host arrays.
 * `initializers`: copied into the session when it is created; later writes to those arrays are not seen.
 */
export type FrozenWeights = 'inputs' | 'initializers';

/**
 * On CPU both compute the same numbers (bit for bit, tested), but baking copies the frozen weights into
 * each session: for BERT-base, creating the two sessions took ~25 s instead of 1.5-4.5 s and peak RSS
 * rose from 0.9 to 3.0-3.2 GB (paid per seed), while step times differed by less than the noise of a loaded
 * machine (.notes/gpu.md; test/bench/step.ts --frozen inputs|initializers).
 */
export const CPU_FROZEN_WEIGHTS: FrozenWeights = 'inputs';

/** The placement a device uses: CUDA always bakes (inputs would cross to the device every step). */
export function frozenWeightsFor(device: Device, requested?: FrozenWeights): FrozenWeights {
  if (device === 'cpu') return requested ?? CPU_FROZEN_WEIGHTS;
  if (requested === 'inputs') {
    throw new Error('model: on --device cuda frozen weights are initializers; as inputs they would be copied to the GPU on every run');
  }
  return 'initializers';
}

export interface SessionConfig {
  device: Device;
  dropout: number;
  seed: number;
  threads?: number;
  /** Default: frozenWeightsFor(device). */
  frozenWeights?: FrozenWeights;
  /** Write onnxruntime profiles (one JSON per session) with this path prefix; see endProfiling(). */
  profilePrefix?: string;
}

export interface StepResult {
  loss: number;
  grads: Map<string, Float32Array>;
}

export class ModelSessions {
  private constructor(
    readonly specs: ParamSpec[],
    readonly frozenWeights: FrozenWeights,
    private readonly paramFeeds: Record<string, ort.Tensor>,
    private readonly train: ort.InferenceSession | null,
    private readonly infer: ort.InferenceSession,
  ) {}

  /** @param training false builds only the inference session (predict, eval). */
  static async create(
    spec: ModelSpec,
    values: ReadonlyMap<string, Float32Array>,
    cfg: SessionConfig,
    training = true,
  ): Promise<ModelSessions> {
    const frozenWeights = frozenWeightsFor(cfg.device, cfg.frozenWeights);
    const inferGraph = buildBertGraph(spec, { training: false });
    const paramFeeds: Record<string, ort.Tensor> = {};
    const baked = new Map<string, Float32Array>();
    for (const p of inferGraph.specs) {
      const data = values.get(p.name);
      if (!data) throw new Error(`model: no value for parameter ${p.name}`);
      if (frozenWeights === 'initializers' && !p.trainable) baked.set(p.name, data);
      else paramFeeds[p.name] = hostTensor(data, p.shape);
    }
    // Both variants come from the same graph description: only the export differs.
    const model = (built: BertGraph, name: string) => toOnnxModel(built.graph, name, built.graph.outputs, { initializers: baked });
    const opts = (name: string) => ({
      device: cfg.device,
      threads: cfg.threads,
      profilePrefix: cfg.profilePrefix === undefined ? undefined : `${cfg.profilePrefix}${name}`,
    });
    const infer = await createSession(model(inferGraph, 'bert_infer'), opts('bert_infer'));
    const train = training
      ? await createSession(
          model(buildBertGraph(spec, { training: true, dropout: cfg.dropout, seed: cfg.seed }), 'bert_train'),
          opts('bert_train'),
        )
      : null;
    return new ModelSessions(inferGraph.specs, frozenWeights, paramFeeds, train, infer);
  }

  /** The graph inputs each session takes (the training one: null when not built). */
  get inputNames(): { train: readonly string[] | null; infer: readonly string[] } {
    return { train: this.train?.inputNames ?? null, infer: this.infer.inputNames };
  }

  private feeds(batch: TokenBatch, withLabels: boolean): Record<string, ort.Tensor> {
    const dims = [batch.batchSize, batch.seqLen];
    const feeds: Record<string, ort.Tensor> = {
      ...this.paramFeeds,
      [INPUT_IDS]: hostTensor(batch.inputIds, dims),
      [TOKEN_TYPE_IDS]: hostTensor(batch.tokenTypeIds, dims),
      [ATTENTION_MASK]: hostTensor(batch.attentionMask, dims),
    };
    if (withLabels) {
      if (!batch.labels) throw new Error('model: a training batch needs labels');
      feeds[LABELS] = hostTensor(batch.labels, [batch.batchSize]);
    }
    return feeds;
  }

  /** One forward + backward: mean cross-entropy and the gradient of every trainable parameter. */
  async step(batch: TokenBatch): Promise<StepResult> {
    if (!this.train) throw new Error('model: sessions were created without the training graph');
    const trainable = this.specs.filter((p) => p.trainable);
    const fetches = ['loss', ...trainable.map((p) => gradName(p.name))];
    const out = await this.train.run(this.feeds(batch, true), fetches);
    const grads = new Map(trainable.map((p) => [p.name, out[gradName(p.name)].data as Float32Array]));
    return { loss: (out.loss.data as Float32Array)[0], grads };
  }

  /** Logits, row-major [batch, numLabels]. */
  async logits(batch: TokenBatch): Promise<Float32Array> {
    const out = await this.infer.run(this.feeds(batch, false), ['logits']);
    return out.logits.data as Float32Array;
  }

  /** Ends profiling of both sessions (created with profilePrefix): onnxruntime writes their JSON files. */
  endProfiling(): void {
    this.train?.endProfiling();
    this.infer.endProfiling();
  }

  async release(): Promise<void> {
    await this.train?.release();
    await this.infer.release();
  }
}

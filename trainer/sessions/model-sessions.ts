/**
 * The two onnxruntime sessions of a model — the training step (loss + trainable gradients) and
 * inference (logits) — fed from one set of parameter arrays. Parameters are graph inputs wrapping
 * the Float32Arrays without a copy: both sessions share them, and the optimizer's in-place updates
 * are what the next run sees.
 */

import { toOnnxModel } from '../graph/onnx-export.ts';
import { ATTENTION_MASK, buildBertGraph, gradName, INPUT_IDS, LABELS, TOKEN_TYPE_IDS } from '../model/bert.ts';
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

export interface SessionConfig {
  device: Device;
  dropout: number;
  seed: number;
  threads?: number;
}

export interface StepResult {
  loss: number;
  grads: Map<string, Float32Array>;
}

export class ModelSessions {
  private constructor(
    readonly specs: ParamSpec[],
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
    const inferGraph = buildBertGraph(spec, { training: false });
    const paramFeeds: Record<string, ort.Tensor> = {};
    for (const p of inferGraph.specs) {
      const data = values.get(p.name);
      if (!data) throw new Error(`model: no value for parameter ${p.name}`);
      paramFeeds[p.name] = hostTensor(data, p.shape);
    }
    const opts = { device: cfg.device, threads: cfg.threads };
    const infer = await createSession(toOnnxModel(inferGraph.graph, 'bert_infer'), opts);
    const train = training
      ? await createSession(
          toOnnxModel(buildBertGraph(spec, { training: true, dropout: cfg.dropout, seed: cfg.seed }).graph, 'bert_train'),
          opts,
        )
      : null;
    return new ModelSessions(inferGraph.specs, paramFeeds, train, infer);
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

  async release(): Promise<void> {
    await this.train?.release();
    await this.infer.release();
  }
}

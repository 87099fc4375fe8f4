/**
 * The masked-LM step in onnxruntime: parameters fed as graph inputs wrapping the Float32Arrays the
 * optimizer updates in place (no copies), one packed, masked batch in, loss, predictions and every
 * gradient out.
 */
import type { BertConfig } from '../../shared/bert-config.ts';
import { toOnnxModel } from '../graph/onnx-export.ts';
import { ATTENTION_MASK, gradName, INPUT_IDS, TOKEN_TYPE_IDS } from '../model/bert.ts';
import { createSession, hostTensor, type ort } from '../sessions/session.ts';
import { buildMlmGraph, MASKED_POSITIONS, MASKED_TARGETS, PREDICTIONS } from './graph.ts';
import type { MlmParam } from './params.ts';

/** A packed batch with its masking: every sequence full length, so there is no padding. */
export interface MaskedBatch {
  batchSize: number;
  seqLen: number;
  /** [B·S], masked ([MASK] / random / kept) where chosen. */
  inputIds: BigInt64Array;
  /** [M] flat positions b·S + s that the loss is taken at. */
  positions: BigInt64Array;
  /** [M] the original tokens there. */
  labels: Int32Array;
}

export interface MlmStepResult {
  /** Mean cross-entropy over the batch's masked tokens. */
  loss: number;
  /** Masked tokens predicted right (arg-max). */
  correct: number;
  grads: Map<string, Float32Array>;
}

export class MlmSession {
  private readonly tokenTypes = new Map<number, BigInt64Array>();
  private readonly masks = new Map<number, Float32Array>();

  private constructor(
    readonly params: MlmParam[],
    private readonly vocabSize: number,
    private readonly paramFeeds: Record<string, ort.Tensor>,
    private readonly session: ort.InferenceSession,
  ) {}

  static async create(config: BertConfig, values: ReadonlyMap<string, Float32Array>, opts: { threads?: number } = {}): Promise<MlmSession> {
    const built = buildMlmGraph(config);
    const feeds: Record<string, ort.Tensor> = {};
    for (const p of built.params) {
      const data = values.get(p.name);
      if (!data) throw new Error(`masked LM: no value for parameter ${p.name}`);
      feeds[p.name] = hostTensor(data, p.shape);
    }
    const session = await createSession(toOnnxModel(built.graph, 'bert_mlm_train'), { threads: opts.threads });
    return new MlmSession(built.params, config.vocab_size, feeds, session);
  }

  /**
   * The session's graph inputs: the batch and the trained parameters, nothing else. Pretraining trains every
   * weight the graph reads (the pooler, the one untrained weight, is not read), so there is no frozen weight to
   * bake in as an initializer: this is already the shape a CUDA session needs (ModelSessions' `initializers`).
   */
  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  async step(b: MaskedBatch): Promise<MlmStepResult> {
    const n = b.batchSize * b.seqLen;
    // Packed sequences are one segment with no padding: token types 0 and attention 1 everywhere.
    let types = this.tokenTypes.get(n);
    if (!types) {
      types = new BigInt64Array(n);
      this.tokenTypes.set(n, types);
    }
    let mask = this.masks.get(n);
    if (!mask) {
      mask = new Float32Array(n).fill(1);
      this.masks.set(n, mask);
    }
    const m = b.labels.length;
    const targets = new BigInt64Array(m);
    for (let i = 0; i < m; i++) targets[i] = BigInt(i * this.vocabSize + b.labels[i]);
    const dims = [b.batchSize, b.seqLen];
    const feeds: Record<string, ort.Tensor> = {
      ...this.paramFeeds,
      [INPUT_IDS]: hostTensor(b.inputIds, dims),
      [TOKEN_TYPE_IDS]: hostTensor(types, dims),
      [ATTENTION_MASK]: hostTensor(mask, dims),
      [MASKED_POSITIONS]: hostTensor(b.positions, [m]),
      [MASKED_TARGETS]: hostTensor(targets, [m]),
    };
    const out = await this.session.run(feeds, ['loss', PREDICTIONS, ...this.params.map((p) => gradName(p.name))]);
    const predicted = out[PREDICTIONS].data as BigInt64Array;
    let correct = 0;
    for (let i = 0; i < m; i++) if (Number(predicted[i]) === b.labels[i]) correct++;
    const grads = new Map(this.params.map((p) => [p.name, out[gradName(p.name)].data as Float32Array]));
    return { loss: (out.loss.data as Float32Array)[0], correct, grads };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

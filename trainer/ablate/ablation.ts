/**
 * Layer ablation of a trained adapter, as Houlsby et al. (2019) did it: the validation metric with the
 * adapters of every contiguous span of layers [first, last] removed. "Removed" means the adapter branch
 * adds nothing — its up-projection (weight and bias) is zero, so adapter(h) = h + 0 — while the LayerNorms
 * and the head stay as trained. The inference session is built once; a span is removed by zeroing those
 * parameter arrays in place (the session reads them without a copy) and restored after.
 */

import type { BertConfig } from '../../shared/bert-config.ts';
import type { SelectionMetric } from '../../shared/trainer-events.ts';
import { type DatasetFormat, readDataset, type TokenizedRow } from '../../shared/training-data/index.ts';
import { familyOf } from '../model/families/registry.ts';
import { adapterPrefix, parameterSpecs, specFromAdapterConfig } from '../model/params.ts';
import { initialParameters } from '../model/weights.ts';
import { readAdapterDir } from '../model-files/adapter-dir.ts';
import { loadBaseModel } from '../model-files/base-model.ts';
import { ModelFileError } from '../model-files/errors.ts';
import { ModelSessions, type TokenBatch } from '../sessions/model-sessions.ts';
import type { Device } from '../sessions/session.ts';
import { loadBaseTokenizer } from '../tokenizer/base-tokenizer.ts';
import { resolveLabels } from '../train/labels.ts';
import { type EvalMetrics, metricValue } from '../train/metrics.ts';
import { evaluate } from '../train/trainer.ts';
import { Rng } from '../util/random.ts';

export interface LayerSpan {
  first: number;
  last: number;
}

/** Every contiguous span [first, last] of `numLayers` layers, first ascending, then last ascending. */
export function layerSpans(numLayers: number): LayerSpan[] {
  const spans: LayerSpan[] = [];
  for (let first = 0; first < numLayers; first++) for (let last = first; last < numLayers; last++) spans.push({ first, last });
  return spans;
}

export interface AblationInput {
  base: string;
  adapter: string;
  device: Device;
  threads?: number;
}

/** An adapter on its base, ready to run with any span of its layers' adapters removed. */
export class AdapterAblation {
  private constructor(
    private readonly sessions: ModelSessions,
    /** The live up-projection arrays the session reads, with their trained values, per layer. */
    private readonly upByLayer: Map<number, { live: Float32Array; trained: Float32Array }[]>,
    readonly config: BertConfig,
    readonly labels: string[],
    readonly maxSeqLen: number,
  ) {}

  static async open(o: AblationInput): Promise<AdapterAblation> {
    const base = loadBaseModel(o.base);
    const adapter = readAdapterDir(o.adapter, base);
    if (adapter.config.mode !== 'adapter' || !adapter.config.adapter)
      throw new ModelFileError(`--adapter ${o.adapter}: a ${adapter.config.mode} model has no adapters to remove`);
    if (adapter.config.labels.length === 0) throw new ModelFileError(`--adapter ${o.adapter}: has no head (head_config.json)`);
    if (adapter.config.base.weightsSha256 !== base.weightsSha256) {
      throw new ModelFileError(
        `--adapter ${o.adapter} was trained on a base with weights sha256 ${adapter.config.base.weightsSha256}, but --base ${o.base} has ${base.weightsSha256}`,
      );
    }
    const spec = specFromAdapterConfig(adapter.config);
    const values = initialParameters(spec, parameterSpecs(spec), base, new Rng(0), { task: adapter.config.task, tensors: adapter.tensors });
    const upByLayer = new Map<number, { live: Float32Array; trained: Float32Array }[]>();
    for (const layer of adapter.config.adapter.layers) {
      const arrays = (['attention', 'output'] as const).flatMap((site) =>
        ['weight', 'bias'].map((kind) => values.get(`${adapterPrefix(layer, site, spec.task)}.adapter_up.${kind}`)!),
      );
      upByLayer.set(
        layer,
        arrays.map((live) => ({ live, trained: Float32Array.from(live) })),
      );
    }
    const sessions = await ModelSessions.create(spec, values, { device: o.device, dropout: 0, seed: 0, threads: o.threads }, false);
    return new AdapterAblation(sessions, upByLayer, spec.config, adapter.config.labels, adapter.config.maxSeqLen);
  }

  /** Removes the adapters of the layers in `span` (and restores every other layer's); null restores all. */
  setRemoved(span: LayerSpan | null): void {
    for (const [layer, arrays] of this.upByLayer) {
      const removed = span !== null && layer >= span.first && layer <= span.last;
      for (const a of arrays) {
        if (removed) a.live.fill(0);
        else a.live.set(a.trained);
      }
    }
  }

  get numLayers(): number {
    return this.config.num_hidden_layers;
  }

  logits(batch: TokenBatch): Promise<Float32Array> {
    return this.sessions.logits(batch);
  }

  evaluate(rows: readonly TokenizedRow[], labelIndex: (row: TokenizedRow) => number, batchSize: number): Promise<EvalMetrics> {
    return evaluate(this.sessions, rows, labelIndex, this.labels.length, batchSize);
  }

  release(): Promise<void> {
    return this.sessions.release();
  }
}

export interface AblateOptions extends AblationInput {
  data: string;
  format?: DatasetFormat;
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
  batchSize: number;
  metric: SelectionMetric;
  /** Called after each span is evaluated (progress). */
  onSpan?: (span: LayerSpan, value: number) => void;
}

export interface AblationResult {
  format: 'adapter-store.ablation/v1';
  adapter: string;
  base: string;
  data: string;
  examples: number;
  metric: SelectionMetric;
  numLayers: number;
  /** Nothing removed: the adapter's own metrics. */
  unablated: EvalMetrics & { value: number };
  /** Every span, first ascending then last ascending. */
  spans: (LayerSpan & EvalMetrics & { value: number })[];
  seconds: number;
}

export async function ablate(o: AblateOptions): Promise<AblationResult> {
  const started = performance.now();
  const ablation = await AdapterAblation.open(o);
  try {
    const cfg = ablation.config;
    const family = familyOf(cfg);
    const tokenizer = await loadBaseTokenizer(o.base, ablation.maxSeqLen, family);
    const { rows, name } = await readDataset(o.data, {
      vocabSize: cfg.vocab_size,
      maxPositions: family.maxSequenceLength(cfg),
      typeVocabSize: cfg.type_vocab_size,
      requireLabels: true,
      tokenizer,
      format: o.format,
      textColumn: o.textColumn,
      textPairColumn: o.textPairColumn,
      labelColumn: o.labelColumn,
      labels: ablation.labels,
    });
    const { labelIndex } = resolveLabels(rows, ablation.labels, name);
    const run = async (span: LayerSpan | null) => {
      ablation.setRemoved(span);
      const m = await ablation.evaluate(rows, labelIndex, o.batchSize);
      return { ...m, value: metricValue(m, o.metric) };
    };
    const unablated = await run(null);
    const spans: AblationResult['spans'] = [];
    for (const span of layerSpans(ablation.numLayers)) {
      const m = await run(span);
      spans.push({ ...span, ...m });
      o.onSpan?.(span, m.value);
    }
    return {
      format: 'adapter-store.ablation/v1',
      adapter: o.adapter,
      base: o.base,
      data: o.data,
      examples: rows.length,
      metric: o.metric,
      numLayers: ablation.numLayers,
      unablated,
      spans,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    await ablation.release();
  }
}

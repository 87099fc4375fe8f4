/**
 * Adapters with random (not freshly initialised) trainable tensors on a base, built in memory: what the
 * serving-graph and export tests compare graphs on without training first.
 */
import type { AdapterConfig, AdapterNonlinearity, TrainMode } from '../../shared/adapter-config.ts';
import { type ModelSpec, parameterSpecs, specFromAdapterConfig } from '../../trainer/model/params.ts';
import { initialParameters } from '../../trainer/model/weights.ts';
import type { BaseModel } from '../../trainer/model-files/base-model.ts';
import { Rng } from '../../trainer/util/random.ts';

export interface RandomAdapterOptions {
  task: string;
  mode: TrainMode;
  labels: number;
  bottleneck?: number;
  layers?: number[];
  nonlinearity?: AdapterNonlinearity;
  trainLayernorms?: boolean;
  usesPooler?: boolean;
  seed: number;
}

export function randomAdapter(base: BaseModel, o: RandomAdapterOptions): { config: AdapterConfig; tensors: Map<string, Float32Array> } {
  const c = base.config;
  const adapter =
    o.mode === 'adapter'
      ? {
          bottleneck: o.bottleneck ?? 4,
          nonlinearity: o.nonlinearity ?? 'gelu',
          initStd: 1e-3,
          layers: o.layers ?? Array.from({ length: c.num_hidden_layers }, (_, i) => i),
          trainLayernorms: o.trainLayernorms ?? true,
        }
      : null;
  const config: AdapterConfig = {
    format: 'adapter-store.adapter/v1',
    task: o.task,
    mode: o.mode,
    adapter,
    labels: Array.from({ length: o.labels }, (_, i) => `l${i}`),
    maxSeqLen: c.max_position_embeddings,
    dropout: 0,
    base: { config: c, weightsSha256: base.weightsSha256, usesPooler: o.usesPooler ?? base.hasPooler },
    parameters: { trainable: 0, total: 0 },
    createdAt: '2026-01-01T00:00:00Z',
    pythonAdapters: null,
  };
  const spec: ModelSpec = specFromAdapterConfig(config);
  const specs = parameterSpecs(spec);
  const values = initialParameters(spec, specs, base, new Rng(o.seed));
  const rng = new Rng(o.seed + 1000);
  const tensors = new Map<string, Float32Array>();
  for (const p of specs.filter((s) => s.trainable)) {
    const v = Float32Array.from(values.get(p.name)!);
    // Weights large enough that every adapter, LayerNorm and head visibly moves the logits.
    for (let i = 0; i < v.length; i++) v[i] += 0.3 * rng.normal();
    tensors.set(p.name, v);
  }
  return { config, tensors };
}

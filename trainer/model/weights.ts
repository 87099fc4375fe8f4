/**
 * The value of every parameter at the start of training: frozen weights straight from the base
 * checkpoint (views, never copied), trainable ones copied so the base stays intact, new ones drawn
 * (adapters: truncated normal, biases 0; classifier: N(0, initializer_range)), and a warm-start
 * adapter's tensors over all of that.
 */
import type { BaseModel } from '../model-files/base-model.ts';
import { ModelFileError } from '../model-files/errors.ts';
import type { F32Tensor } from '../model-files/safetensors.ts';
import type { Rng } from '../util/random.ts';
import type { ModelSpec, ParamSpec } from './params.ts';

export function initialParameters(
  spec: ModelSpec,
  specs: readonly ParamSpec[],
  base: BaseModel,
  rng: Rng,
  warmStart?: { task: string; tensors: ReadonlyMap<string, F32Tensor> },
): Map<string, Float32Array> {
  const values = new Map<string, Float32Array>();
  const std = spec.config.initializer_range ?? 0.02;
  for (const p of specs) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    if (p.baseName) {
      const w = base.weights.get(p.baseName);
      if (!w) throw new ModelFileError(`${base.dir}: base model has no tensor "${p.baseName}"`);
      values.set(p.name, p.trainable ? Float32Array.from(w.data) : w.data);
      continue;
    }
    const data = new Float32Array(n);
    if (p.role === 'adapter-down-weight' || p.role === 'adapter-up-weight') {
      const initStd = spec.adapter?.initStd ?? 1e-3;
      for (let i = 0; i < n; i++) data[i] = rng.truncatedNormal(initStd);
    } else if (p.role === 'classifier-weight') {
      for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    }
    values.set(p.name, data);
  }
  if (warmStart) applyWarmStart(values, specs, spec.task, warmStart);
  return values;
}

/** Copies a previous adapter's tensors in (renaming its task), checking every name and shape. */
function applyWarmStart(
  values: Map<string, Float32Array>,
  specs: readonly ParamSpec[],
  task: string,
  warm: { task: string; tensors: ReadonlyMap<string, F32Tensor> },
): void {
  const byName = new Map(specs.map((p) => [p.name, p]));
  for (const [fileName, t] of warm.tensors) {
    const name = fileName.replace(`.adapters.${warm.task}.`, `.adapters.${task}.`);
    const p = byName.get(name);
    if (!p)
      throw new ModelFileError(`--init-adapter: tensor "${fileName}" does not belong to this model (wrong mode, layers or bottleneck?)`);
    if (p.shape.length !== t.shape.length || p.shape.some((d, i) => d !== t.shape[i])) {
      throw new ModelFileError(`--init-adapter: tensor "${fileName}" has shape [${t.shape}], expected [${p.shape}]`);
    }
    // Copy: a frozen base view must not be written through, and trainable values get updated in place.
    values.set(name, Float32Array.from(t.data));
  }
}

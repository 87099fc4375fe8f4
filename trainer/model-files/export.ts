/**
 * `trainer export`: rewrite an adapter directory in another ecosystem's format. `onnx` (the default)
 * writes a model any onnxruntime runs (onnx-package.ts); `adapterhub` writes the Python `adapters`
 * library's layout (adapter.safetensors = pytorch_adapter.bin = the adapter tensors alone; the head and
 * the LayerNorms in their own files) beside our adapter_config.json fields, metrics and a model card.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EXPORT_FORMATS } from '../../shared/vocabulary.ts';
import { requirePath } from '../model/families/family.ts';
import { familyOf } from '../model/families/registry.ts';
import { METRICS, readAdapterDir, writeAdapterDir } from './adapter-dir.ts';
import { loadBaseModel } from './base-model.ts';
import { ModelFileError } from './errors.ts';
import { exportOnnx } from './onnx-package.ts';

export interface ExportOptions {
  format: string;
  adapter: string;
  out: string;
  /** Optional for adapterhub: when given, the adapter must have been trained on it (or, for an AdapterHub input, fit it). */
  base?: string;
  modelName?: string;
  /** onnx only: f32 (default) or f16 weights, int8 frozen linear weights, adapter tensors as graph inputs. */
  dtype?: string;
  quantize?: string;
  adaptersAsInputs?: boolean;
}

export async function exportAdapter(o: ExportOptions): Promise<void> {
  if (o.format === 'onnx') {
    if (o.modelName !== undefined) throw new ModelFileError('--model-name applies to --format adapterhub only');
    if (!o.base) throw new ModelFileError('--base is required for --format onnx (the base weights go into model.onnx)');
    return exportOnnx({
      base: o.base,
      adapter: o.adapter,
      out: o.out,
      dtype: o.dtype,
      quantize: o.quantize,
      adaptersAsInputs: o.adaptersAsInputs,
    });
  }
  if (o.format === 'adapterhub') {
    const onnxOnly = [
      o.dtype !== undefined && '--dtype',
      o.quantize !== undefined && '--quantize',
      o.adaptersAsInputs && '--adapters-as-inputs',
    ].filter(Boolean);
    if (onnxOnly.length > 0) throw new ModelFileError(`${onnxOnly.join(', ')}: apply to --format onnx only`);
  }
  if (o.format !== 'adapterhub') throw new ModelFileError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got "${o.format}"`);
  const base = o.base ? loadBaseModel(o.base) : undefined;
  const adapter = readAdapterDir(o.adapter, base);
  requirePath(familyOf(adapter.config.base.config), 'export --format adapterhub');
  if (base && adapter.config.base.weightsSha256 !== base.weightsSha256) {
    throw new ModelFileError(
      `--adapter ${o.adapter} was trained on a base with weights sha256 ${adapter.config.base.weightsSha256}, but --base ${o.base} has ${base.weightsSha256}`,
    );
  }
  if (adapter.config.mode !== 'adapter')
    throw new ModelFileError(
      `--adapter ${o.adapter}: trained in "${adapter.config.mode}" mode; the adapters library loads adapter-mode adapters only`,
    );
  const metricsPath = join(o.adapter, METRICS);
  const metrics: unknown = existsSync(metricsPath) ? JSON.parse(readFileSync(metricsPath, 'utf8')) : {};
  writeAdapterDir(o.out, adapter, metrics, { modelName: o.modelName, adapterHubLayout: true });
}

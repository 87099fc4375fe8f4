/**
 * `trainer export`: rewrite an adapter directory in another ecosystem's format. `adapterhub` writes the
 * directory a published version has (ours + the Python `adapters` library's files + model card);
 * `onnx` belongs to the inference work and is not there yet.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { METRICS, readAdapterDir, writeAdapterDir } from './adapter-dir.ts';
import { loadBaseModel } from './base-model.ts';
import { ModelFileError } from './errors.ts';

export const EXPORT_FORMATS = ['adapterhub', 'onnx'] as const;

export interface ExportOptions {
  format: string;
  adapter: string;
  out: string;
  /** Optional for adapterhub: when given, the adapter must have been trained on it (or, for an AdapterHub input, fit it). */
  base?: string;
  modelName?: string;
}

export function exportAdapter(o: ExportOptions): void {
  if (o.format === 'onnx')
    throw new ModelFileError('--format onnx: not yet implemented (ONNX export comes with the inference runtime); use --format adapterhub');
  if (o.format !== 'adapterhub') throw new ModelFileError(`--format must be one of ${EXPORT_FORMATS.join(', ')}, got "${o.format}"`);
  const base = o.base ? loadBaseModel(o.base) : undefined;
  const adapter = readAdapterDir(o.adapter, base);
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
  writeAdapterDir(o.out, adapter, metrics, { modelName: o.modelName });
}

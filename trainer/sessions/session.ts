/** onnxruntime sessions for the graphs the trainer builds: execution provider choice and feeds. */

import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import type { Device } from '../../shared/vocabulary.ts';

export type { Device };

export interface SessionOptions {
  device?: Device;
  /** Intra-op threads; default: every core. */
  threads?: number;
  /** Graph optimisation level; float64 graphs need `basic`, since some fusions (e.g. QuickGelu) exist for float32 only. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /**
   * Whether idle intra-op threads spin-wait for work (onnxruntime's default: on). Training runs back to
   * back and gains from it; a server between small requests only burns the cores its other threads need
   * (test/bench/serving.ts: the small base's p50 fell from 17.3 to 5.2 ms with spinning off, under load).
   */
  spinning?: boolean;
  /** Profile every run into `<prefix>_<time>.json` (written by endProfiling): which provider ran each node. */
  profilePrefix?: string;
}

export class DeviceError extends Error {}

/** Fails with a clear message when the CUDA provider is not in this onnxruntime build. */
export function checkDevice(device: Device): void {
  if (device === 'cpu') return;
  // The CUDA provider is listed even when its shared library was never installed (bundled: false).
  const cuda = ort.listSupportedBackends().find((b) => b.name === 'cuda');
  if (!cuda || (!cuda.bundled && !cudaProviderInstalled())) {
    throw new DeviceError(
      '--device cuda: this onnxruntime-node install has no CUDA execution provider (libonnxruntime_providers_cuda.so is missing). ' +
        'Install onnxruntime-node with ONNXRUNTIME_NODE_INSTALL=cuda12 on a machine with an NVIDIA GPU (the trainer image does), or use --device cpu.',
    );
  }
}

function cudaProviderInstalled(): boolean {
  return existsSync(cudaProviderPath());
}

/**
 * Where onnxruntime looks for the CUDA provider: beside its own library in the onnxruntime-node package
 * that `import 'onnxruntime-node'` loads (resolved the same way, so a redirected import is seen here too).
 */
export function cudaProviderPath(): string {
  const entry = fileURLToPath(import.meta.resolve('onnxruntime-node'));
  return join(dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
}

export async function createSession(model: Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const device = opts.device ?? 'cpu';
  checkDevice(device);
  return ort.InferenceSession.create(model, {
    executionProviders: device === 'cuda' ? ['cuda', 'cpu'] : ['cpu'],
    graphOptimizationLevel: opts.optimization ?? 'all',
    intraOpNumThreads: opts.threads ?? availableParallelism(),
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // Memory patterns pre-plan one block per input shape: on the BERT-base training step they cost 38 %
    // more peak memory (6.0 vs 3.7 GB at batch 32) for ~5 % speed, and dynamic padding changes shapes anyway.
    enableMemPattern: false,
    logSeverityLevel: 3,
    ...(opts.profilePrefix === undefined ? {} : { enableProfiling: true, profileFilePrefix: opts.profilePrefix }),
    ...(opts.spinning === false ? { extra: { session: { intra_op: { allow_spinning: '0' } } } } : {}),
  });
}

export type HostArray = Float32Array | Float64Array | BigInt64Array | Uint8Array;

/** Wraps a typed array as an onnxruntime tensor without copying it. */
export function hostTensor(data: HostArray, dims: readonly number[]): ort.Tensor {
  if (data instanceof Float32Array) return new ort.Tensor('float32', data, dims);
  if (data instanceof Float64Array) return new ort.Tensor('float64', data, dims);
  if (data instanceof BigInt64Array) return new ort.Tensor('int64', data, dims);
  return new ort.Tensor('bool', data, dims);
}

export { ort };

/**
 * A temporary copy of onnxruntime-node whose CUDA provider library is garbage (a broken install), and the
 * node flags and environment that make a child process load that copy instead of node_modules' own.
 */
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface OnnxruntimeCopy {
  /** The copied package's directory. */
  dir: string;
  /** The stub that stands where onnxruntime loads the CUDA provider from. */
  cudaProvider: string;
  /** `node` flags for the child, before its script. */
  nodeArgs: string[];
  env: Record<string, string>;
  remove: () => void;
}

export function brokenCudaProviderCopy(): OnnxruntimeCopy {
  const root = mkdtempSync(join(tmpdir(), 'ort-broken-cuda-'));
  const modules = fileURLToPath(new URL('../../node_modules/', import.meta.url));
  // The package and its one dependency, side by side, as npm lays them out.
  for (const pkg of ['onnxruntime-node', 'onnxruntime-common']) {
    cpSync(join(modules, pkg), join(root, 'node_modules', pkg), { recursive: true });
  }
  const dir = join(root, 'node_modules', 'onnxruntime-node');
  const cudaProvider = join(dir, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so');
  writeFileSync(cudaProvider, 'not a shared library\n');
  return {
    dir,
    cudaProvider,
    nodeArgs: ['--import', 'tsx', '--import', './test/support/redirect-onnxruntime.mjs'],
    env: { TEST_ONNXRUNTIME_NODE: dir, ONNXRUNTIME_NODE_INSTALL: 'skip' },
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

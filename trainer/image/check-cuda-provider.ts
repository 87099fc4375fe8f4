/**
 * `node check-cuda-provider.mjs <libonnxruntime_providers_cuda.so> <nvidia/cuda image>`: run by
 * trainer/Dockerfile in the runtime stage (bundled by esbuild, like the CLI). Prints the provider's
 * NEEDED sonames and what `ldd -r` found missing; exits 1 with the reason and the fix when the base
 * image cannot load it. See cuda-provider-check.ts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { checkCudaProvider, parseLdd } from './cuda-provider-check.ts';
import { neededLibraries } from './elf-needed.ts';

function main(argv: string[]): number {
  const [provider, image] = argv;
  if (!provider || !image) {
    console.error('usage: check-cuda-provider <libonnxruntime_providers_cuda.so> <nvidia/cuda image tag>');
    return 2;
  }
  // ldd exits non-zero when something is missing; its report is on stdout either way.
  let lddOutput: string;
  try {
    lddOutput = execFileSync('ldd', ['-r', provider], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    lddOutput = `${e.stdout ?? ''}\n${e.stderr ?? ''}`;
  }
  const verdict = checkCudaProvider({
    provider,
    needed: neededLibraries(readFileSync(provider)),
    image,
    baseCudaVersion: process.env.CUDA_VERSION,
    ldd: parseLdd(lddOutput),
  });
  (verdict.ok ? console.log : console.error)(verdict.report);
  return verdict.ok ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));

/**
 * The trainer image's build-time check that onnxruntime's CUDA provider can load on the image's CUDA
 * base (trainer/Dockerfile runs it through check-cuda-provider.ts). The provider comes from NuGet at
 * build time, and its CUDA major is whatever Microsoft built that package for, which is not what
 * onnxruntime-node's install flag calls it ("cuda12"): a provider linked against libcudart.so.13 on a
 * CUDA 12 base would only fail at the first GPU job. So the build reads what the provider NEEDs and
 * stops with a message that says what to change.
 *
 * The one pinned constant is the Dockerfile's `ARG CUDA_IMAGE=nvidia/cuda:<major>.<minor>.<patch>-...`:
 * the check derives the major from it (and from the base's own CUDA_VERSION), and the tests read it
 * from the Dockerfile with `pinnedCudaImage`.
 */

/** Libraries whose soname major is the CUDA toolkit's major (cuFFT, cuRAND and cuDNN number their own). */
const CUDA_MAJOR_LIBRARIES = ['libcudart', 'libcublas', 'libcublasLt', 'libnvrtc'];

/**
 * Libraries the host's NVIDIA driver provides at run time (mounted by the NVIDIA container toolkit):
 * absent at build time by design.
 */
const DRIVER_LIBRARY = /^lib(cuda|nvidia-[a-z-]+)\.so(\.\d+)*$/;

/**
 * The oldest Linux driver for each CUDA major, from NVIDIA's cuDNN 9 support matrix (CUDA 12.x:
 * >= 525.60.13; CUDA 13.x: >= 580.65.06). The nvidia/cuda images also refuse to start on an older
 * driver (NVIDIA_REQUIRE_CUDA).
 */
export const MIN_DRIVER: Readonly<Record<number, string>> = { 12: '525.60.13', 13: '580.65.06' };

/** The base image every doc and message names when it says which tag to use for a major. */
export const SUGGESTED_CUDA_IMAGE: Readonly<Record<number, string>> = {
  12: 'nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04',
  13: 'nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04',
};

/** The CUDA major of an nvidia/cuda image tag (`nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04` -> 13). */
export function cudaImageMajor(image: string): number {
  const m = /^(?:[\w.-]+\/)*nvidia\/cuda:(\d+)\.\d+(?:\.\d+)?-cudnn[\w.-]*$/.exec(image);
  if (!m) throw new Error(`"${image}" is not an nvidia/cuda:<major>.<minor>[.<patch>]-cudnn... image tag (the provider needs cuDNN)`);
  return Number(m[1]);
}

/** The `ARG CUDA_IMAGE=` default of a Dockerfile's text: the pinned base the image is built on. */
export function pinnedCudaImage(dockerfile: string): string {
  const lines = dockerfile.split('\n').filter((l) => /^ARG CUDA_IMAGE=/.test(l));
  if (lines.length !== 1) throw new Error(`expected one "ARG CUDA_IMAGE=<image>" line in the Dockerfile, found ${lines.length}`);
  return lines[0].slice('ARG CUDA_IMAGE='.length).trim();
}

/** The CUDA majors a library list names through the libraries that carry the toolkit's major. */
export function cudaMajorsNeeded(needed: readonly string[]): { major: number; sonames: string[] }[] {
  const byMajor = new Map<number, string[]>();
  for (const soname of needed) {
    const m = /^(lib[A-Za-z]+)\.so\.(\d+)$/.exec(soname);
    if (!m || !CUDA_MAJOR_LIBRARIES.includes(m[1])) continue;
    const major = Number(m[2]);
    byMajor.set(major, [...(byMajor.get(major) ?? []), soname]);
  }
  return [...byMajor].sort(([a], [b]) => a - b).map(([major, sonames]) => ({ major, sonames }));
}

/** What `ldd -r <lib>` reported: sonames it could not find, and symbols it could not resolve. */
export interface LddReport {
  notFound: string[];
  /** `undefined symbol: <name>, version <soname>` lines, as "<name>@<soname>" (or "<name>" unversioned). */
  undefinedSymbols: string[];
}

export function parseLdd(output: string): LddReport {
  const notFound = new Set<string>();
  const undefinedSymbols: string[] = [];
  for (const line of output.split('\n')) {
    const missing = /^\s*(\S+) => not found\s*$/.exec(line);
    if (missing) notFound.add(missing[1]);
    const undef = /^undefined symbol: ([^,\s]+)(?:, version (\S+))?/.exec(line);
    if (undef) undefinedSymbols.push(undef[2] ? `${undef[1]}@${undef[2]}` : undef[1]);
  }
  return { notFound: [...notFound], undefinedSymbols };
}

export interface CudaProviderFacts {
  /** Path of libonnxruntime_providers_cuda.so, for the report. */
  provider: string;
  /** Its DT_NEEDED sonames. */
  needed: string[];
  /** The Dockerfile's pinned base (ARG CUDA_IMAGE). */
  image: string;
  /** The base's CUDA_VERSION environment variable (set by every nvidia/cuda image), if any. */
  baseCudaVersion?: string;
  ldd: LddReport;
}

export interface CudaProviderVerdict {
  ok: boolean;
  /** Printed by the build either way: the NEEDED list, then what is wrong and what to change. */
  report: string;
}

export function checkCudaProvider(f: CudaProviderFacts): CudaProviderVerdict {
  const tagMajor = cudaImageMajor(f.image);
  const baseMajor = f.baseCudaVersion ? Number(f.baseCudaVersion.split('.')[0]) : tagMajor;
  const lines = [`onnxruntime CUDA provider: ${f.provider}`, `  NEEDED: ${f.needed.join(' ') || '(none)'}`];
  const problems: string[] = [];
  if (baseMajor !== tagMajor)
    problems.push(`the base image's CUDA_VERSION is ${f.baseCudaVersion}, but ARG CUDA_IMAGE (${f.image}) names CUDA ${tagMajor}`);
  const majors = cudaMajorsNeeded(f.needed);
  if (majors.length === 0) problems.push('the provider names no CUDA runtime library (libcudart/libcublas): is it a CUDA build at all?');
  if (majors.length > 1)
    problems.push(`the provider names two CUDA majors: ${majors.map((m) => `${m.major} (${m.sonames.join(', ')})`).join(' and ')}`);
  const providerMajor = majors.at(-1)?.major;
  if (providerMajor !== undefined && providerMajor !== baseMajor) {
    problems.push(
      `the provider is built for CUDA ${providerMajor} (${majors.at(-1)!.sonames.join(', ')}), but the base image ${f.image} is CUDA ${baseMajor}`,
    );
  }
  const missing = f.ldd.notFound.filter((s) => !DRIVER_LIBRARY.test(s));
  if (missing.length > 0) problems.push(`libraries the image does not have: ${missing.join(', ')}`);
  // An unversioned undefined symbol may be one the host process (libonnxruntime) provides; a symbol
  // versioned by a CUDA library means that library in the image is older than the provider's build.
  const cudaSymbols = f.ldd.undefinedSymbols.filter((s) => /@lib(cu|nv)/.test(s) && !/@libcuda\.so/.test(s));
  if (cudaSymbols.length > 0)
    problems.push(
      `symbols the image's CUDA libraries lack (they are older than the provider's build): ${cudaSymbols.slice(0, 5).join(', ')}${cudaSymbols.length > 5 ? ` and ${cudaSymbols.length - 5} more` : ''}`,
    );
  if (problems.length === 0) {
    lines.push(`  OK: CUDA ${baseMajor} base (${f.image}); host driver >= ${MIN_DRIVER[baseMajor] ?? '?'} needed at run time`);
    return { ok: true, report: lines.join('\n') };
  }
  lines.push('  FAILED:', ...problems.map((p) => `  - ${p}`));
  const want = providerMajor ?? baseMajor;
  const onlyOlderMinor = cudaSymbols.length > 0 && want === baseMajor && missing.length === 0 && problems.length === 1;
  lines.push(
    onlyOlderMinor
      ? `  Fix: set ARG CUDA_IMAGE in trainer/Dockerfile to a newer CUDA ${want} minor than ${f.image} (the provider was built with a newer toolkit);` +
          ` check that the GPU hosts' driver supports that minor (docs/deploy.md).`
      : `  Fix: set ARG CUDA_IMAGE in trainer/Dockerfile to a CUDA ${want} cuDNN runtime base, e.g. ${SUGGESTED_CUDA_IMAGE[want] ?? `nvidia/cuda:${want}.<minor>.<patch>-cudnn-runtime-ubuntu24.04`};` +
          ` CUDA ${want} needs an NVIDIA driver >= ${MIN_DRIVER[want] ?? '(see NVIDIA\u2019s support matrix)'} on the GPU hosts (docs/deploy.md).`,
  );
  return { ok: false, report: lines.join('\n') };
}

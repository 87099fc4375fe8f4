/**
 * The trainer image's build-time CUDA check, on the base image trainer/Dockerfile pins (read from its
 * `ARG CUDA_IMAGE=` line, the one constant the Dockerfile, the check and these tests share), and the
 * Dockerfile's wiring of it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  checkCudaProvider,
  cudaImageMajor,
  cudaMajorsNeeded,
  MIN_DRIVER,
  parseLdd,
  pinnedCudaImage,
  SUGGESTED_CUDA_IMAGE,
} from '../../../trainer/image/cuda-provider-check.ts';

const DOCKERFILE = readFileSync(new URL('../../../trainer/Dockerfile', import.meta.url), 'utf8');
const PINNED = pinnedCudaImage(DOCKERFILE);
const MAJOR = cudaImageMajor(PINNED);
const OTHER = MAJOR === 13 ? 12 : 13;

/** What libonnxruntime_providers_cuda.so NEEDs when built for CUDA `major` (cuFFT numbers itself: 11 on 12, 12 on 13). */
const providerNeeds = (major: number) => [
  `libcublasLt.so.${major}`,
  `libcublas.so.${major}`,
  'libcudnn.so.9',
  'libcurand.so.10',
  `libcufft.so.${major - 1}`,
  `libcudart.so.${major}`,
  'libonnxruntime_providers_shared.so',
  'libdl.so.2',
  'libstdc++.so.6',
  'libc.so.6',
];
const PROVIDER = '/app/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so';
const cleanLdd = { notFound: [], undefinedSymbols: [] };

test('the pinned base is a cuDNN image of a CUDA major the check knows the driver floor of, and the one it suggests', () => {
  assert.match(PINNED, /^nvidia\/cuda:\d+\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+$/);
  assert.ok(MIN_DRIVER[MAJOR], `a driver minimum for CUDA ${MAJOR}`);
  assert.equal(SUGGESTED_CUDA_IMAGE[MAJOR], PINNED, 'the fix the check prints for this major is the pinned base');
  assert.equal(cudaImageMajor(SUGGESTED_CUDA_IMAGE[OTHER]), OTHER);
});

test('a provider of the pinned major passes, and the report lists its NEEDED sonames', () => {
  const v = checkCudaProvider({
    provider: PROVIDER,
    needed: providerNeeds(MAJOR),
    image: PINNED,
    baseCudaVersion: PINNED.split(':')[1].split('-')[0],
    ldd: cleanLdd,
  });
  assert.equal(v.ok, true, v.report);
  assert.match(v.report, new RegExp(`NEEDED: libcublasLt\\.so\\.${MAJOR} libcublas\\.so\\.${MAJOR} libcudnn\\.so\\.9`));
  assert.match(v.report, new RegExp(`OK: CUDA ${MAJOR} base \\(${PINNED.replace(/\./g, '\\.')}\\); host driver >= ${MIN_DRIVER[MAJOR]}`));
});

test('a provider of the other major fails the build with the mismatch, what is missing and what to change', () => {
  const v = checkCudaProvider({
    provider: PROVIDER,
    needed: providerNeeds(OTHER),
    image: PINNED,
    baseCudaVersion: PINNED.split(':')[1].split('-')[0],
    ldd: parseLdd(
      [
        '\tlinux-vdso.so.1 (0x00007ffd)',
        `\tlibcublasLt.so.${OTHER} => not found`,
        `\tlibcublas.so.${OTHER} => not found`,
        '\tlibcudnn.so.9 => /usr/lib/x86_64-linux-gnu/libcudnn.so.9 (0x00007f00)',
        `\tlibcudart.so.${OTHER} => not found`,
        '\tlibcuda.so.1 => not found',
      ].join('\n'),
    ),
  });
  assert.equal(v.ok, false);
  assert.match(
    v.report,
    new RegExp(
      `the provider is built for CUDA ${OTHER} \\(libcublasLt\\.so\\.${OTHER}, libcublas\\.so\\.${OTHER}, libcudart\\.so\\.${OTHER}\\), but the base image ${PINNED.replace(/\./g, '\\.')} is CUDA ${MAJOR}`,
    ),
  );
  // libcuda.so.1 is the host driver's: never reported missing.
  assert.match(
    v.report,
    new RegExp(`libraries the image does not have: libcublasLt\\.so\\.${OTHER}, libcublas\\.so\\.${OTHER}, libcudart\\.so\\.${OTHER}\\n`),
  );
  assert.ok(
    v.report.includes(
      `Fix: set ARG CUDA_IMAGE in trainer/Dockerfile to a CUDA ${OTHER} cuDNN runtime base, e.g. ${SUGGESTED_CUDA_IMAGE[OTHER]}`,
    ),
    v.report,
  );
  assert.ok(v.report.includes(`CUDA ${OTHER} needs an NVIDIA driver >= ${MIN_DRIVER[OTHER]}`), v.report);
});

test('CUDA libraries older than the provider (symbols versioned by them missing) fail; unversioned ones are left to the loader', () => {
  const ldd = parseLdd(
    [
      `undefined symbol: cublasLtMatmulAlgoGetHeuristic, version libcublasLt.so.${MAJOR}\t(${PROVIDER})`,
      `undefined symbol: Provider_GetHost\t(${PROVIDER})`,
    ].join('\n'),
  );
  assert.deepEqual(ldd.undefinedSymbols, [`cublasLtMatmulAlgoGetHeuristic@libcublasLt.so.${MAJOR}`, 'Provider_GetHost']);
  const v = checkCudaProvider({ provider: PROVIDER, needed: providerNeeds(MAJOR), image: PINNED, ldd });
  assert.equal(v.ok, false);
  assert.match(
    v.report,
    /symbols the image's CUDA libraries lack \(they are older than the provider's build\): cublasLtMatmulAlgoGetHeuristic@/,
  );
  assert.doesNotMatch(v.report, /Provider_GetHost/);
  assert.equal(
    checkCudaProvider({
      provider: PROVIDER,
      needed: providerNeeds(MAJOR),
      image: PINNED,
      ldd: { notFound: [], undefinedSymbols: ['Provider_GetHost'] },
    }).ok,
    true,
  );
});

test('a base whose CUDA_VERSION disagrees with the pinned tag, a provider naming no CUDA runtime, or two majors, fail', () => {
  const wrongBase = checkCudaProvider({
    provider: PROVIDER,
    needed: providerNeeds(MAJOR),
    image: PINNED,
    baseCudaVersion: `${OTHER}.0.0`,
    ldd: cleanLdd,
  });
  assert.equal(wrongBase.ok, false);
  assert.match(wrongBase.report, new RegExp(`the base image's CUDA_VERSION is ${OTHER}\\.0\\.0, but ARG CUDA_IMAGE`));
  const cpu = checkCudaProvider({ provider: PROVIDER, needed: ['libc.so.6'], image: PINNED, ldd: cleanLdd });
  assert.match(cpu.report, /names no CUDA runtime library/);
  const mixed = checkCudaProvider({ provider: PROVIDER, needed: ['libcudart.so.12', 'libcublas.so.13'], image: PINNED, ldd: cleanLdd });
  assert.match(mixed.report, /two CUDA majors: 12 \(libcudart\.so\.12\) and 13 \(libcublas\.so\.13\)/);
});

test('only the toolkit-numbered libraries count toward the major', () => {
  assert.deepEqual(cudaMajorsNeeded(['libcufft.so.12', 'libcurand.so.10', 'libcudnn.so.9', 'libcudart.so.13', 'libnvrtc.so.13']), [
    { major: 13, sonames: ['libcudart.so.13', 'libnvrtc.so.13'] },
  ]);
});

test('image tags: the major, and a precise refusal of anything else', () => {
  assert.equal(cudaImageMajor('nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04'), 12);
  assert.equal(cudaImageMajor('public.ecr.aws/nvidia/cuda:13.0.2-cudnn-runtime-ubuntu24.04'), 13);
  assert.throws(
    () => cudaImageMajor('nvidia/cuda:13.0.2-runtime-ubuntu24.04'),
    /is not an nvidia\/cuda:<major>\.<minor>\[\.<patch>\]-cudnn\.\.\. image tag/,
  );
  assert.throws(() => pinnedCudaImage('FROM scratch\n'), /expected one "ARG CUDA_IMAGE=<image>" line in the Dockerfile, found 0/);
});

test('the Dockerfile runs the check on the pinned base, on Node 22, and keeps only linux/x64 onnxruntime binaries', () => {
  // The GPU stage is the last one, so a plain `docker build` builds it; the reduce's cpu stage needs no CUDA.
  const stages = [...DOCKERFILE.matchAll(/^FROM \S+ AS (\w+)$/gm)].map((m) => m[1]);
  assert.deepEqual(stages, ['build', 'deps', 'cpu', 'gpu']);
  assert.match(DOCKERFILE, /^FROM \$\{NODE_IMAGE\} AS cpu$/m);
  assert.match(DOCKERFILE, /^FROM \$\{CUDA_IMAGE\} AS gpu\nARG CUDA_IMAGE$/m);
  assert.match(DOCKERFILE, /node dist\/check-cuda-provider\.mjs \$ORT_BIN\/libonnxruntime_providers_cuda\.so "\$CUDA_IMAGE"/);
  assert.match(DOCKERFILE, /esbuild trainer\/image\/check-cuda-provider\.ts --bundle/);
  assert.match(DOCKERFILE, /^ARG NODE_IMAGE=node:22-bookworm-slim$/m);
  assert.doesNotMatch(DOCKERFILE, /--target=node(?!22)/);
  // Only what the bundle leaves external is copied: no onnxruntime-web, no other platforms.
  assert.match(DOCKERFILE, /cp -r node_modules\/onnxruntime-node node_modules\/onnxruntime-common "\$1\/node_modules\/"/);
  assert.match(
    DOCKERFILE,
    /find "\$1\/node_modules\/onnxruntime-node\/bin\/napi-v6" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf \{\} \+/,
  );
  assert.match(DOCKERFILE, /rm -rf "\$1\/node_modules\/onnxruntime-node\/bin\/napi-v6\/linux\/arm64"/);
  assert.match(DOCKERFILE, /COPY --from=deps \/out\/node_modules \.\/node_modules/);
  assert.match(DOCKERFILE, /COPY --from=deps \/out-cpu\/node_modules \.\/node_modules/);
  // The cpu copy is taken before the CUDA provider is downloaded into node_modules.
  assert.ok(DOCKERFILE.indexOf('keep_linux_x64 /out-cpu') < DOCKERFILE.indexOf('ONNXRUNTIME_NODE_INSTALL=cuda12 node ./script/install'));
  assert.ok(DOCKERFILE.indexOf('ONNXRUNTIME_NODE_INSTALL=cuda12 node ./script/install') < DOCKERFILE.indexOf('keep_linux_x64 /out \\'));
});

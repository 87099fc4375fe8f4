/**
 * The inference function: `POST /adapters/{task}/predict` on its own Lambda function
 * (functions/inference-lambda.ts), so the API function stays small and free of onnxruntime. It loads
 * the base from the registry into /tmp at cold start and serves every adapter of it from one session.
 *
 * Packaging: a zip (NodejsFunction, local esbuild) plus onnxruntime-node pruned to linux/arm64, copied
 * from the local node_modules after bundling; not a container image. Measured on this project
 * (docs/deploy.md): the pruned package is ~25 MB unzipped (the whole package 288 MB, over Lambda's
 * 250 MB zip limit; linux/x64 alone 45 MB), so a zip fits with room to spare; it needs no Docker at
 * synth or deploy, no ECR repository and no image build, and npm never runs (synth stays offline). A
 * container image would only pay off past the zip limit (a base baked into the image, or GPU builds).
 */
import { join } from 'node:path';
import { Duration, RemovalPolicy, Size } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { acknowledge } from './nag.ts';
import type { RegistryBucket } from './registry.ts';
import { REPO_ROOT } from './training.ts';

/** The route the inference function serves (API Gateway's path syntax); every other route stays on the API function. */
export const PREDICT_ROUTE_PATH = '/adapters/{task}/predict';

/**
 * The native package the bundle cannot hold (esbuild does not bundle .node files), and what of it is
 * copied next to the bundle: its JS, its one dependency, and the binaries of the function's OS/arch only.
 */
export const ORT_PACKAGE = 'onnxruntime-node';
export const ORT_RUNTIME_FILES = (arch: 'arm64' | 'x64'): string[] => [
  'onnxruntime-node/package.json',
  'onnxruntime-node/dist',
  `onnxruntime-node/bin/napi-v6/linux/${arch}`,
  'onnxruntime-common/package.json',
  'onnxruntime-common/dist',
];

/** POSIX shell quoting (commandHooks run under bash; the API's bundling is local, never on Windows here). */
const q = (p: string) => `'${p.replace(/'/g, `'\\''`)}'`;

/** Shell commands (bash, the project root as cwd) that copy the pruned package into the bundle's node_modules. */
export function copyPrunedOnnxRuntime(outputDir: string, arch: 'arm64' | 'x64', nodeModules = join(REPO_ROOT, 'node_modules')): string[] {
  return ORT_RUNTIME_FILES(arch).map((rel) => {
    const to = join(outputDir, 'node_modules', rel);
    // -L: node_modules may be a symlink (a shared install); copy the files, never the link.
    return `mkdir -p ${q(join(to, '..'))} && cp -RL ${q(join(nodeModules, rel))} ${q(to)}`;
  });
}

/**
 * The runtime's worker-thread entry (serving/node-worker.ts), bundled beside index.mjs under
 * this name: esbuild leaves `new URL('./…', import.meta.url)` alone, so the worker is a second bundle that
 * the runtime finds next to its own file when it does not run from .ts sources.
 */
export const INFERENCE_WORKER_ENTRY = join('serving', 'node-worker.ts');
export const INFERENCE_WORKER_FILE = 'node-worker.mjs';
const BANNER =
  "import { createRequire as __adapterStoreRequire } from 'node:module'; const require = __adapterStoreRequire(import.meta.url);";

/** Shell command that bundles the worker entry into `outputDir` with the same settings as the handler. */
export function bundleWorker(outputDir: string, root = REPO_ROOT): string {
  return [
    q(join(root, 'node_modules', '.bin', 'esbuild')),
    q(join(root, INFERENCE_WORKER_ENTRY)),
    '--bundle',
    '--platform=node',
    '--format=esm',
    '--target=node22',
    '--main-fields=module,main',
    `--external:${ORT_PACKAGE}`,
    '--minify',
    '--sourcemap',
    `--banner:js=${q(BANNER)}`,
    `--outfile=${q(join(outputDir, INFERENCE_WORKER_FILE))}`,
  ].join(' ');
}

export interface InferenceProps {
  registry: RegistryBucket;
  registryUri: string;
  /** The API's key secret: the same bearer keys are accepted here (same app, same auth). */
  apiKeySecret: secretsmanager.ISecret;
  defaultBaseModel: string;
  /** The HTTP API whose predict route goes to this function. */
  httpApi: apigw.HttpApi;
  /** arm64 (default, Graviton); x64 lets the benchmark run the very bundle on this x64 machine. */
  arch?: 'arm64' | 'x64';
}

/**
 * Sized for a BERT-base-shaped base: 440 MB of f32 weights fed zero-copy to one session, activations of
 * a 32-text batch, the adapter cache and Node itself fit in 3 GB; 3008 MB is also the largest size every
 * account may use (new accounts' quota) and buys ~1.7 vCPU, hence 2 intra-op threads.
 */
export const INFERENCE_MEMORY_MB = 3008;
export const INFERENCE_THREADS = 2;
/** Adapters kept in memory (LRU by bytes); a BERT-base adapter with its head is a few MB. */
export const INFERENCE_ADAPTER_CACHE_BYTES = 256 * 1024 * 1024;
/** /tmp holds the downloaded base (440 MB for BERT-base; Lambda's default /tmp is 512 MB). */
export const INFERENCE_TMP_MB = 2048;
/**
 * Per-route throttle instead of reserved concurrency: a reservation comes out of the account's unreserved
 * pool (a new account has 10 in all, and Lambda refuses to leave fewer than 10 unreserved, so the deploy
 * would fail there), while the route's rate bounds the containers (each with the base in memory) all the same.
 */
export const PREDICT_THROTTLE = { rate: 50, burst: 100 };

export class Inference extends Construct {
  readonly handler: NodejsFunction;

  constructor(scope: Construct, id: string, props: InferenceProps) {
    super(scope, id);
    const arch = props.arch ?? 'arm64';

    const logGroup = new logs.LogGroup(this, 'FunctionLogs', {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.handler = new NodejsFunction(this, 'Handler', {
      entry: join(REPO_ROOT, 'functions', 'inference-lambda.ts'),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      runtime: lambda.Runtime.NODEJS_22_X,
      // Graviton: cheaper per GB-second, and onnxruntime-node ships a linux/arm64 CPU build.
      architecture: arch === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
      memorySize: INFERENCE_MEMORY_MB,
      ephemeralStorageSize: Size.mebibytes(INFERENCE_TMP_MB),
      // API Gateway gives up on an integration after 30 s; a cold start (base download + session) fits in it.
      timeout: Duration.seconds(29),
      logGroup,
      environment: {
        ADAPTER_STORE_REGISTRY: props.registryUri,
        ADAPTER_STORE_API_KEY_SECRET: props.apiKeySecret.secretArn,
        ADAPTER_STORE_DEFAULT_BASE_MODEL: props.defaultBaseModel,
        ADAPTER_STORE_INFERENCE_THREADS: String(INFERENCE_THREADS),
        ADAPTER_STORE_ADAPTER_CACHE_BYTES: String(INFERENCE_ADAPTER_CACHE_BYTES),
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        // Local esbuild, never Docker; the native package is copied, never installed: synth stays offline.
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        mainFields: ['module', 'main'],
        banner: BANNER,
        externalModules: [ORT_PACKAGE],
        minify: true,
        sourceMap: true,
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (_inputDir, outputDir) => [bundleWorker(outputDir), ...copyPrunedOnnxRuntime(outputDir, arch)],
        },
      },
    });

    // Read-only: base models and adapter versions (cdk/registry.ts).
    props.registry.grantInferenceAccess(this.handler);
    props.apiKeySecret.grantRead(this.handler);

    const [route] = props.httpApi.addRoutes({
      path: PREDICT_ROUTE_PATH,
      methods: [HttpMethod.POST],
      integration: new HttpLambdaIntegration('Predict', this.handler),
    });
    const stage = props.httpApi.defaultStage?.node.defaultChild as apigw.CfnStage | undefined;
    if (!stage) throw new Error('Inference: the HTTP API needs its default stage (createDefaultStage)');
    stage.routeSettings = {
      [`POST ${PREDICT_ROUTE_PATH}`]: { ThrottlingRateLimit: PREDICT_THROTTLE.rate, ThrottlingBurstLimit: PREDICT_THROTTLE.burst },
    };
    // A stage's route settings name a route that must exist first.
    stage.node.addDependency(route);

    acknowledge(this.handler, {
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]':
        "The AWS-maintained basic execution policy only allows writing the function's own CloudWatch logs.",
      'AwsSolutions-L1':
        'Node.js 22 is the runtime this code is built and tested for (esbuild target node22); moving to a newer major is a tested change, not an automatic one.',
    });
  }
}

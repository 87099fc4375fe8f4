/**
 * AWS Lambda entry point of the inference function (cdk/inference.ts): the same Hono app as the API
 * function, given a predictor (onnxruntime-node, serving/node.ts), behind the HTTP API's
 * `POST /adapters/{task}/predict` route; every other route goes to the API function (functions/lambda.ts),
 * whose bundle holds no onnxruntime. Bearer keys come from the same place as there.
 *
 * Cold start: the predictor is built on the first request; a base is copied from the registry into
 * /tmp (the runtime's default: a fresh folder per process, so a crashed download is never reused) the
 * first time an adapter of it is asked for, then kept for the container's life with its session;
 * adapters are cached LRU by bytes.
 *
 * Environment, besides the API function's ADAPTER_STORE_REGISTRY and API key variables:
 *   ADAPTER_STORE_INFERENCE_THREADS     onnxruntime intra-op threads (default: the runtime's choice)
 *   ADAPTER_STORE_ADAPTER_CACHE_BYTES   adapter cache size in bytes (default: the runtime's)
 *   ADAPTER_STORE_BASE_DIR              where bases are copied to (default: a new folder under the OS temp dir)
 *   ADAPTER_STORE_PREDICT_*             predict work bounds (functions/predict-limits.ts)
 */
import { join } from 'node:path';
import type { LambdaContext, LambdaEvent } from 'hono/aws-lambda';
import { handle } from 'hono/aws-lambda';
import { createNodePredictor } from '../serving/node.ts';
import type { Predictor } from '../serving/predictor.ts';
import { type Env, integer, optionalString, requiredString } from '../shared/env.ts';
import { Registry } from '../shared/registry/index.ts';
import { type AppDeps, createApp } from './app.ts';
import { apiKeySource, readSecretsManager, type SecretReader } from './lambda-keys.ts';
import { predictLimitsFromEnv } from './predict-limits.ts';

const logLine = (line: Record<string, unknown>) => console.log(JSON.stringify({ time: new Date().toISOString(), ...line }));

/** The predictor's options from the environment. */
export function predictorOptionsFromEnv(env: Env, registry: Registry): Parameters<typeof createNodePredictor>[0] {
  const threads = integer(env, 'ADAPTER_STORE_INFERENCE_THREADS', { min: 1 });
  const cacheBytes = integer(env, 'ADAPTER_STORE_ADAPTER_CACHE_BYTES', { min: 1 });
  const baseRoot = optionalString(env, 'ADAPTER_STORE_BASE_DIR');
  return {
    registry,
    ...predictLimitsFromEnv(env),
    ...(threads === undefined ? {} : { threads }),
    ...(cacheBytes === undefined ? {} : { cacheBytes }),
    // The runtime downloads a base into the folder it is given when model.safetensors is not there yet.
    ...(baseRoot ? { baseDir: async (name: string) => join(baseRoot, name) } : {}),
  };
}

/**
 * App dependencies of the inference function: the predict group only. Every other route goes to the API
 * function, so one reaching this function (a routing mistake) answers 501 saying so, and runs nothing.
 */
export function inferenceDeps(apiKeys: AppDeps['apiKeys'], predictor: Predictor): AppDeps {
  return { apiKeys, predictor };
}

type LambdaHandler = ReturnType<typeof handle>;

/** Builds the handler's app: the registry, the keys and the predictor from `env`. */
export async function createInferenceHandler(env: Env, readSecret: SecretReader = readSecretsManager): Promise<LambdaHandler> {
  const started = performance.now();
  const registry = Registry.fromUri(requiredString(env, 'ADAPTER_STORE_REGISTRY'));
  const apiKeys = apiKeySource(env, readSecret);
  const predictor = await createNodePredictor(predictorOptionsFromEnv(env, registry));
  logLine({ level: 'info', msg: 'inference function ready', ms: Math.round(performance.now() - started) });
  return handle(createApp(inferenceDeps(apiKeys, predictor)));
}

let app: Promise<LambdaHandler> | null = null;

export async function handler(event: LambdaEvent, context: LambdaContext) {
  app ??= createInferenceHandler(process.env).catch((err: unknown) => {
    app = null; // the next request tries again
    throw err;
  });
  return (await app)(event, context);
}

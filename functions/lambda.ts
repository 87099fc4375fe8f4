/**
 * AWS Lambda entry point (API Gateway HTTP API, payload v2): the same app, configured from the
 * environment the CDK stack sets. The API keys (functions/lambda-keys.ts) and the CDN signing key come from
 * Secrets Manager; the keys are re-read every couple of minutes, so removing one from the secret revokes it
 * (docs/security.md).
 *
 * Downloads redirect to a short-lived signed URL: on CloudFront when ADAPTER_STORE_CDN_URL is set
 * (the file then comes from the edge), otherwise an S3 presigned URL. Versions are immutable, so a
 * signed URL never points at changed bytes.
 */

import { getSignedUrl as signCloudFrontUrl } from '@aws-sdk/cloudfront-signer';
import type { LambdaContext, LambdaEvent } from 'hono/aws-lambda';
import { handle } from 'hono/aws-lambda';
import { type Env, optionalString, requiredString, stringList } from '../shared/env.ts';
import { PREFIXES, Registry } from '../shared/registry/index.ts';
import { type AppDeps, createApp } from './app.ts';
import { BatchLauncher } from './jobs/batch-launcher.ts';
import { jobLimitsFromEnv } from './jobs/spend.ts';
import { apiKeySource, readSecretsManager, type SecretReader } from './lambda-keys.ts';

/** Signed download URLs live this long. */
const DOWNLOAD_URL_SECONDS = 300;
/** Lambda's payload limit is 6 MB and binary bodies arrive base64-encoded (4/3 larger). */
const LAMBDA_DATASET_BYTES = 4 * 1024 * 1024;

/** CloudFront signed URLs for registry keys: `<cdn>/<key>` (the distribution's bucket origin is the bucket root). */
/**
 * The CDN may read adapters/* only (cdk/edge.ts denies it the rest of the bucket): other downloads (base
 * model files, GET /models/:name/files/:file) get an S3 presigned URL instead.
 */
export function viaCdnForAdapters(
  cdn: (key: string) => Promise<string>,
  s3: (key: string) => Promise<string>,
): (key: string) => Promise<string> {
  return (key) => (key.startsWith(PREFIXES.adapters) ? cdn(key) : s3(key));
}

function cloudFrontSigner(env: Env, readSecret: SecretReader, registryPrefix: string): (key: string) => Promise<string> {
  // The distribution's file behaviours (cdk/edge.ts) match adapters/... at the bucket root.
  if (registryPrefix !== '')
    throw new Error(
      `ADAPTER_STORE_REGISTRY must be a bucket root (s3://bucket) when ADAPTER_STORE_CDN_URL is set, got prefix "${registryPrefix}"`,
    );
  const base = requiredString(env, 'ADAPTER_STORE_CDN_URL').replace(/\/+$/, '');
  const keyPairId = requiredString(env, 'ADAPTER_STORE_CDN_KEY_PAIR_ID');
  const secretId = requiredString(env, 'ADAPTER_STORE_CDN_PRIVATE_KEY_SECRET');
  let privateKey: Promise<string> | null = null;
  return async (key) => {
    // Fetched once per container, on first use; a failed fetch is retried by the next request.
    privateKey ??= readSecret(secretId).catch((err: unknown) => {
      privateKey = null;
      throw err;
    });
    const url = `${base}/${key.split('/').map(encodeURIComponent).join('/')}`;
    return signCloudFrontUrl({
      url,
      keyPairId,
      privateKey: await privateKey,
      dateLessThan: new Date(Date.now() + DOWNLOAD_URL_SECONDS * 1000).toISOString(),
    });
  };
}

/** App dependencies from the Lambda environment; `apiKeys` are passed in (apiKeySource: the secret, re-read). */
export function depsFromEnv(env: Env, apiKeys: AppDeps['apiKeys'], readSecret: SecretReader = readSecretsManager): AppDeps {
  const registryUri = requiredString(env, 'ADAPTER_STORE_REGISTRY');
  const registry = Registry.fromUri(registryUri);
  const bucket = registry.location.bucket;
  return {
    registry,
    launcher: new BatchLauncher({
      jobQueue: requiredString(env, 'BATCH_JOB_QUEUE'),
      jobDefinition: requiredString(env, 'BATCH_JOB_DEFINITION'),
      // A sweep's reduce step runs on a CPU queue (cdk/training.ts); unset, it goes where the points do.
      reduceJobQueue: optionalString(env, 'BATCH_REDUCE_JOB_QUEUE'),
      reduceJobDefinition: optionalString(env, 'BATCH_REDUCE_JOB_DEFINITION'),
      registryUri,
    }),
    apiKeys,
    allowedDatasetBuckets: stringList(env, 'ADAPTER_STORE_DATASET_BUCKETS', [bucket]),
    defaultBaseModel: optionalString(env, 'ADAPTER_STORE_DEFAULT_BASE_MODEL', 'bert-base-uncased'),
    downloads: 'redirect',
    signDownloadUrl: optionalString(env, 'ADAPTER_STORE_CDN_URL')
      ? viaCdnForAdapters(cloudFrontSigner(env, readSecret, registry.location.prefix), (key) =>
          registry.presignGet(key, DOWNLOAD_URL_SECONDS),
        )
      : (key) => registry.presignGet(key, DOWNLOAD_URL_SECONDS),
    signUploadUrl: (key, bytes, expiresIn) => registry.presignPut(key, bytes, expiresIn),
    maxDatasetBytes: LAMBDA_DATASET_BYTES,
    // A container serves one request at a time, and the bundle is one file (no worker entry): check on
    // the request's own thread, still streamed and capped.
    datasetChecks: { mode: 'inline', concurrency: 1 },
    jobLimits: jobLimitsFromEnv(env),
  };
}

let app: ReturnType<typeof handle> | null = null;

export async function handler(event: LambdaEvent, context: LambdaContext) {
  app ??= handle(createApp(depsFromEnv(process.env, apiKeySource(process.env, readSecretsManager))));
  return app(event, context);
}

/**
 * AWS Lambda entry point (API Gateway HTTP API, payload v2): the same app, configured from the
 * environment the CDK stack sets. The API key comes from Secrets Manager at cold start.
 */
import { handle } from 'hono/aws-lambda';
import type { LambdaEvent, LambdaContext } from 'hono/aws-lambda';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Registry } from '../shared/registry.ts';
import { createApp, type AppDeps } from './app.ts';
import { BatchLauncher } from './jobs/batch-launcher.ts';

function required(env: NodeJS.ProcessEnv, name: string): string {
  const v = env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

/** App dependencies from the Lambda environment; `apiKeys` are passed in (resolved from the secret). */
export function depsFromEnv(env: NodeJS.ProcessEnv, apiKeys: string[]): AppDeps {
  const registryUri = required(env, 'ADAPTER_STORE_REGISTRY');
  const registry = Registry.fromUri(registryUri);
  return {
    registry,
    launcher: new BatchLauncher({ jobQueue: required(env, 'BATCH_JOB_QUEUE'), jobDefinition: required(env, 'BATCH_JOB_DEFINITION'), registryUri }),
    apiKeys,
    allowedDatasetBuckets: (env.ADAPTER_STORE_DATASET_BUCKETS ?? registry.location.bucket).split(',').map((b) => b.trim()).filter(Boolean),
    defaultBaseModel: env.ADAPTER_STORE_DEFAULT_BASE_MODEL ?? 'bert-base-uncased',
    downloads: 'redirect',
    // Short-lived signed URLs: versions are immutable, so the URL never points at changed bytes.
    signDownloadUrl: (key) => getSignedUrl(registry.s3, new GetObjectCommand({ Bucket: registry.location.bucket, Key: key }), { expiresIn: 300 }),
  };
}

/** Keys from ADAPTER_STORE_API_KEYS (comma-separated) or the Secrets Manager secret ADAPTER_STORE_API_KEY_SECRET. */
async function apiKeysFromEnv(env: NodeJS.ProcessEnv): Promise<string[]> {
  if (env.ADAPTER_STORE_API_KEYS) return env.ADAPTER_STORE_API_KEYS.split(',').map((k) => k.trim()).filter(Boolean);
  const secretId = required(env, 'ADAPTER_STORE_API_KEY_SECRET');
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const out = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: secretId }));
  return (out.SecretString ?? '').split(',').map((k) => k.trim()).filter(Boolean);
}

let app: ReturnType<typeof handle> | null = null;

export async function handler(event: LambdaEvent, context: LambdaContext) {
  app ??= handle(createApp(depsFromEnv(process.env, await apiKeysFromEnv(process.env))));
  return app(event, context);
}

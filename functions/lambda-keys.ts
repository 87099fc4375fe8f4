/**
 * The Lambda functions' bearer keys (the API function and the inference function read the same
 * variables): a fixed list, or a Secrets Manager secret re-read every few minutes, so removing a key from
 * the secret revokes it (docs/security.md). Its own module so the inference function's bundle takes
 * this and not the API function's launcher and CDN signer.
 */
import { type Env, number, requiredString, splitList } from '../shared/env.ts';
import type { AppDeps } from './app.ts';
import { refreshingKeys } from './http/key-source.ts';

/** Reads a secret's string value (Secrets Manager by default; tests pass their own). */
export type SecretReader = (secretId: string) => Promise<string>;

export const readSecretsManager: SecretReader = async (secretId) => {
  const { SecretsManagerClient, GetSecretValueCommand } = await import('@aws-sdk/client-secrets-manager');
  const out = await new SecretsManagerClient({}).send(new GetSecretValueCommand({ SecretId: secretId }));
  if (!out.SecretString) throw new Error(`secret ${secretId} has no string value`);
  return out.SecretString;
};

/** How long a warm container trusts its copy of the key list (ADAPTER_STORE_API_KEYS_TTL_SECONDS, default 120). */
export const DEFAULT_API_KEYS_TTL_SECONDS = 120;

/**
 * Keys from ADAPTER_STORE_API_KEYS (comma-separated; fixed) or the Secrets Manager secret
 * ADAPTER_STORE_API_KEY_SECRET, re-read every ADAPTER_STORE_API_KEYS_TTL_SECONDS: a key removed from
 * the secret stops working on every container within that time.
 */
export function apiKeySource(
  env: Env,
  readSecret: SecretReader,
  o: { now?: () => number; log?: (msg: string) => void } = {},
): AppDeps['apiKeys'] {
  // Set, even to "", the fixed list wins: an empty one lets no key in (never a silent fall back to the secret).
  if (env.ADAPTER_STORE_API_KEYS !== undefined) return splitList(env.ADAPTER_STORE_API_KEYS);
  const secretId = requiredString(env, 'ADAPTER_STORE_API_KEY_SECRET');
  const ttl = number(env, 'ADAPTER_STORE_API_KEYS_TTL_SECONDS', { min: 0 }, DEFAULT_API_KEYS_TTL_SECONDS);
  return refreshingKeys(async () => splitList(await readSecret(secretId)), {
    maxAgeMs: ttl * 1000,
    now: o.now,
    onReloadError: (err) =>
      (o.log ?? console.error)(JSON.stringify({ level: 'warn', msg: 'API key reload failed; keeping the last list', error: err.message })),
  });
}

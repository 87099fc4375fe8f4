/**
 * The local server's bearer key: ADAPTER_STORE_API_KEY when set; otherwise the one kept in
 * <store>/api-key, generated (192 random bits, file mode 0600) the first time, so that it survives
 * restarts and scripts can read it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const API_KEY_FILE = 'api-key';

export function resolveApiKey(storeDir: string, fromEnv: string | undefined): { key: string; source: 'env' | 'file' | 'generated' } {
  if (fromEnv !== undefined) {
    if (fromEnv.trim().length < 16) throw new Error('ADAPTER_STORE_API_KEY must be at least 16 characters');
    return { key: fromEnv.trim(), source: 'env' };
  }
  const file = join(storeDir, API_KEY_FILE);
  if (existsSync(file)) {
    const key = readFileSync(file, 'utf8').trim();
    if (key.length >= 16) return { key, source: 'file' };
  }
  const key = `as_${randomBytes(24).toString('base64url')}`;
  writeFileSync(file, `${key}\n`, { mode: 0o600 });
  return { key, source: 'generated' };
}

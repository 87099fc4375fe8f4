/**
 * Where the inference function keeps base models: models/<name>/ copied from the registry into a local
 * folder (on Lambda, /tmp) the first time a base is asked for, then reused for the container's life.
 * Bases are immutable in the registry (uploadModel never replaces one), so a folder that is complete is
 * current; a download lands in a temporary folder renamed into place, so a crash never leaves a half base.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Registry } from '../shared/registry.ts';

/** `baseDir` for createNodePredictor: the local folder of base `name`, downloaded once (concurrent callers share it). */
export function registryBaseDir(
  registry: Registry,
  root: string,
  o: { log?: (line: Record<string, unknown>) => void; now?: () => number } = {},
): (name: string) => Promise<string> {
  const now = o.now ?? (() => performance.now());
  const pending = new Map<string, Promise<string>>();
  return (name) => {
    // Model names are slugs (the registry refuses others); refuse path tricks here too.
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.includes('..'))
      return Promise.reject(new Error(`base model name "${name}" is not a folder name`));
    let p = pending.get(name);
    if (!p) {
      p = download(name).catch((err: unknown) => {
        pending.delete(name); // a failed download is retried by the next request
        throw err;
      });
      pending.set(name, p);
    }
    return p;
  };

  async function download(name: string): Promise<string> {
    const dir = join(root, name);
    if (existsSync(join(dir, 'model.safetensors'))) return dir;
    const started = now();
    const partial = `${dir}.partial-${process.pid}-${Date.now()}`;
    await mkdir(root, { recursive: true });
    try {
      await registry.downloadModel(name, partial);
      await rename(partial, dir);
    } catch (err) {
      await rm(partial, { recursive: true, force: true });
      throw err;
    }
    o.log?.({ level: 'info', msg: 'base model downloaded', model: name, dir, ms: Math.round(now() - started) });
    return dir;
  }
}

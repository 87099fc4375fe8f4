/**
 * Where adapters come from: a manifest per (task, version) and the bytes of the files it lists. The
 * cache verifies every file against the manifest, so a source only fetches. The URL source speaks the
 * store's own HTTP API (GET /adapters/:task, /versions/:v, /download) with fetch: Node and browsers.
 * The registry and directory sources (Node) are in node-sources.ts.
 */
import type { AdapterManifest } from '../shared/manifest.ts';
import { PredictError } from './predictor.ts';

export interface AdapterSource {
  /** The manifest of `version`, or of the newest version when absent; PredictError 'not-found' when there is none. */
  manifest(task: string, version?: string): Promise<AdapterManifest>;
  /** The bytes of one file of a version. */
  file(task: string, version: string, name: string): Promise<Uint8Array>;
}

/** The store's API at `url` (e.g. https://api.example.com), with its bearer key. */
export function urlAdapterSource(url: string, opts: { apiKey?: string; fetch?: typeof fetch } = {}): AdapterSource {
  const get = opts.fetch ?? fetch;
  const root = url.replace(/\/+$/, '');
  const headers: Record<string, string> = opts.apiKey ? { authorization: `Bearer ${opts.apiKey}` } : {};
  const call = async (path: string, what: string): Promise<Response> => {
    const res = await get(`${root}${path}`, { headers });
    if (res.status === 404)
      throw new PredictError(`${what}: not found at ${root}`, 'not-found', what.startsWith('version') ? 'version' : 'task');
    if (!res.ok) throw new Error(`${root}${path}: HTTP ${res.status}`);
    return res;
  };
  const t = encodeURIComponent;
  return {
    async manifest(task, version) {
      if (version === undefined) {
        const res = await call(`/adapters/${t(task)}`, `task "${task}"`);
        return ((await res.json()) as { manifest: AdapterManifest }).manifest;
      }
      return (await (
        await call(`/adapters/${t(task)}/versions/${t(version)}`, `version "${version}" of "${task}"`)
      ).json()) as AdapterManifest;
    },
    async file(task, version, name) {
      const res = await call(`/adapters/${t(task)}/download?version=${t(version)}&file=${t(name)}`, `${name} of "${task}" ${version}`);
      return new Uint8Array(await res.arrayBuffer());
    },
  };
}

/**
 * Adapters in memory, least recently used evicted first when their bytes exceed the budget; keyed by
 * task and version (versions are immutable). Loading verifies every file against the manifest's sha256
 * and refuses an adapter trained on other base weights than the base it would run on.
 */
import type { AdapterConfig } from '../shared/adapter-config.ts';
import type { AdapterManifest } from '../shared/manifest.ts';
import { ModelFileError, readFloat32Tensors } from '../trainer/model-files/safetensors-format.ts';
import type { AdapterSource } from './adapter-source.ts';
import { PredictError } from './predictor.ts';
import { sha256Hex } from './sha256.ts';

/** The files the runtime reads from a version. */
export const SERVED_FILES = ['adapter_config.json', 'adapter.safetensors'] as const;

export interface LoadedAdapter {
  /** `task@version`. */
  key: string;
  task: string;
  version: string;
  manifest: AdapterManifest;
  config: AdapterConfig;
  /** As read from adapter.safetensors; the runtime empties the map once it has packed them (runtime.ts). */
  tensors: Map<string, Float32Array>;
  /** What this entry holds in memory: its tensors' bytes, or what `keptBytes` says it keeps instead. */
  bytes: number;
}

export class AdapterCache {
  /** Least recently used first (a Map keeps insertion order). */
  private readonly entries = new Map<string, LoadedAdapter>();
  private readonly loading = new Map<string, Promise<LoadedAdapter>>();
  private total = 0;

  constructor(
    private readonly source: AdapterSource,
    readonly maxBytes: number,
    /** Called with each adapter the budget evicts. */
    private readonly onEvict?: (a: LoadedAdapter) => void,
  ) {}

  get bytes(): number {
    return this.total;
  }

  get keys(): string[] {
    return [...this.entries.keys()];
  }

  /**
   * The adapter of a manifest, loaded once. `check` runs on its manifest and config before any tensor is
   * read (the base checks); `keptBytes`, called once on load, turns it into what the caller keeps (its packed
   * feeds, the tensors released) and returns those bytes: what the budget counts.
   */
  async get(
    manifest: AdapterManifest,
    check: (manifest: AdapterManifest, config: AdapterConfig) => Promise<void>,
    keptBytes: (a: LoadedAdapter) => number | Promise<number> = (a) => a.bytes,
  ): Promise<LoadedAdapter> {
    const key = `${manifest.task}@${manifest.version}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    let pending = this.loading.get(key);
    if (!pending) {
      pending = this.load(key, manifest, check).then(async (a) => {
        a.bytes = await keptBytes(a);
        this.insert(a);
        return a;
      });
      pending.finally(() => this.loading.delete(key)).catch(() => {});
      this.loading.set(key, pending);
    }
    return pending;
  }

  private insert(a: LoadedAdapter): void {
    this.entries.set(a.key, a);
    this.total += a.bytes;
    // Evict the least recently used until the budget holds; the newest entry always stays.
    for (const [k, e] of this.entries) {
      if (this.total <= this.maxBytes || k === a.key) break;
      this.entries.delete(k);
      this.total -= e.bytes;
      this.onEvict?.(e);
    }
  }

  private async verified(manifest: AdapterManifest, name: string): Promise<Uint8Array> {
    const entry = manifest.files.find((f) => f.name === name);
    const where = `${manifest.task} version ${manifest.version}`;
    if (!entry) throw new PredictError(`${where}: the manifest lists no ${name}`, 'corrupt');
    const bytes = await this.source.file(manifest.task, manifest.version, name);
    const sha = await sha256Hex(bytes);
    if (bytes.byteLength !== entry.bytes || sha !== entry.sha256) {
      throw new PredictError(
        `${where}: ${name} does not match its manifest (sha256 ${sha}, ${bytes.byteLength} bytes; the manifest says ${entry.sha256}, ${entry.bytes} bytes); refusing to serve it`,
        'corrupt',
      );
    }
    return bytes;
  }

  private async load(
    key: string,
    manifest: AdapterManifest,
    check: (manifest: AdapterManifest, config: AdapterConfig) => Promise<void>,
  ): Promise<LoadedAdapter> {
    const configBytes = await this.verified(manifest, 'adapter_config.json');
    let config: AdapterConfig;
    try {
      config = JSON.parse(new TextDecoder().decode(configBytes)) as AdapterConfig;
    } catch (e) {
      throw new PredictError(`${key}: adapter_config.json is not valid JSON (${(e as Error).message})`, 'corrupt');
    }
    await check(manifest, config);
    const weights = await this.verified(manifest, 'adapter.safetensors');
    let tensors: Map<string, Float32Array>;
    try {
      tensors = new Map([...readFloat32Tensors(weights, `${key} adapter.safetensors`)].map(([n, t]) => [n, t.data]));
    } catch (e) {
      if (e instanceof ModelFileError) throw new PredictError(e.message, 'corrupt');
      throw e;
    }
    let bytes = 0;
    for (const t of tensors.values()) bytes += t.byteLength;
    return { key, task: manifest.task, version: manifest.version, manifest, config, tensors, bytes };
  }
}

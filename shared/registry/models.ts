/**
 * Base models (models/<name>/, the flat Hugging Face layout): a base exists once its config and weights
 * are stored, and the weights go up last and create-only, so a half-uploaded base never looks usable
 * and a complete one is never replaced (published adapters name its weights' sha256).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ObjectBody } from '../object-store.ts';
import { RegistryError } from './error.ts';
import { BASE_MODEL_FILES, type BaseModelFile, MODEL_CONFIG_FILE, MODEL_WEIGHTS_FILE, PREFIXES, SLUG_RE } from './layout.ts';
import type { RegistryObjects } from './objects.ts';

export class ModelStore {
  constructor(private readonly objects: RegistryObjects) {}

  private get layout() {
    return this.objects.layout;
  }

  /** Where the bases live, as clients know it (for messages). */
  private get modelsUri(): string {
    return this.objects.uriOf(this.layout.key(PREFIXES.models));
  }

  /** A model exists once its weights do (upload writes them last). */
  async exists(name: string): Promise<boolean> {
    const { keys } = await this.objects.list(this.layout.model(name));
    return keys.some((k) => k.key.endsWith(`/${MODEL_CONFIG_FILE}`)) && keys.some((k) => k.key.endsWith(`/${MODEL_WEIGHTS_FILE}`));
  }

  /** The bases in the store, by name: those that exist (config and weights, as exists), with their weights' size. */
  /** Complete bases (config and weights present), with the base files each holds (BASE_MODEL_FILES order). */
  async list(): Promise<{ name: string; weightsBytes: number; files: BaseModelFile[] }[]> {
    const prefix = this.layout.key(PREFIXES.models);
    const { keys } = await this.objects.list(prefix);
    const files = new Map<string, Map<string, number>>();
    for (const k of keys) {
      const parts = k.key.slice(prefix.length).split('/');
      if (parts.length !== 2 || !SLUG_RE.test(parts[0])) continue; // flat HF layout: models/<name>/<file>
      const [name, file] = parts;
      files.set(name, (files.get(name) ?? new Map()).set(file, k.size));
    }
    return [...files]
      .filter(([, f]) => f.has(MODEL_CONFIG_FILE) && f.has(MODEL_WEIGHTS_FILE))
      .map(([name, f]) => ({ name, weightsBytes: f.get(MODEL_WEIGHTS_FILE)!, files: BASE_MODEL_FILES.filter((b) => f.has(b)) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Size of a model's weights file (model.safetensors), or null when the model does not exist. */
  async weightsBytes(name: string): Promise<number | null> {
    const { keys } = await this.objects.list(this.layout.model(name));
    return keys.find((k) => k.key.endsWith(`/${MODEL_WEIGHTS_FILE}`))?.size ?? null;
  }

  /** Copies models/<name>/* into a local directory (streamed; the weights never sit in memory twice). */
  async download(name: string, dir: string): Promise<void> {
    await this.objects.downloadPrefix(this.layout.model(name), dir); // flat HF layout only
    if (!existsSync(join(dir, MODEL_WEIGHTS_FILE)))
      throw new RegistryError(`base model "${name}" not found in ${this.modelsUri}`, 'not-found');
  }

  /** A base's folder as clients know it (s3://...), never a local store's path. */
  uri(name: string): string {
    return this.objects.uriOf(this.layout.model(name));
  }

  /** models/<name>/<file> */
  fileKey(name: string, file: BaseModelFile): string {
    return this.layout.modelFile(name, file);
  }

  /** One file of a base, streamed (null when the base or that file is absent). */
  async openFile(name: string, file: BaseModelFile): Promise<ObjectBody | null> {
    if (!(BASE_MODEL_FILES as readonly string[]).includes(file))
      throw new RegistryError(`"${file}" is not a base model file (${BASE_MODEL_FILES.join(', ')})`, 'invalid');
    return this.objects.get(this.fileKey(name, file));
  }

  /**
   * Uploads a base model: the other files first, model.safetensors last and immutable. The weights
   * make a model exist (exists), so an interrupted upload leaves no usable-looking half model and
   * can simply be retried, and a complete model is never replaced (published adapters name its weights'
   * sha256). Throws a 'conflict' RegistryError when the model already exists.
   */
  async upload(name: string, dir: string, files: readonly string[]): Promise<void> {
    const prefix = this.layout.model(name);
    if (!files.includes(MODEL_WEIGHTS_FILE)) throw new RegistryError(`base model "${name}": model.safetensors is required`, 'invalid');
    if (await this.exists(name)) throw new RegistryError(`base model "${name}" already exists in ${this.modelsUri}`, 'conflict');
    await this.objects.uploadFiles(
      dir,
      prefix,
      files.filter((f) => f !== MODEL_WEIGHTS_FILE),
      false,
    );
    await this.objects.uploadFiles(dir, prefix, [MODEL_WEIGHTS_FILE], true);
  }
}

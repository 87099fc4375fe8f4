import { readAll } from '../shared/object-store.ts';
import { type Registry, RegistryError } from '../shared/registry/index.ts';
import type { AdapterSource } from './adapter-source.ts';
import { PredictError } from './predictor.ts';

const asPredictError = (err: unknown, field: string): unknown =>
  err instanceof RegistryError && err.code === 'invalid' ? new PredictError(err.message, 'invalid', field) : err;

/** Versions and files straight from the registry; the newest version is the newest with a sound manifest. */
export function registryAdapterSource(registry: Registry): AdapterSource {
  return {
    async manifest(task, version) {
      if (version !== undefined) {
        const m = await registry.adapters.manifest(task, version).catch((err: unknown) => {
          throw asPredictError(err, 'version');
        });
        if (!m) throw new PredictError(`task "${task}" has no version "${version}"`, 'not-found', 'version');
        return m;
      }
      // A corrupt manifest is never served, as GET /adapters skips it.
      const { manifest } = await registry.adapters.latest(task).catch((err: unknown) => {
        throw asPredictError(err, 'task');
      });
      if (manifest) return manifest;
      throw new PredictError(`no published adapter for task "${task}"`, 'not-found', 'task');
    },
    async file(task, version, name) {
      const body = await registry.adapters.openFile(task, version, name);
      if (!body) throw new PredictError(`${task} version ${version}: ${name} is in the manifest but not in the store`, 'corrupt');
      const buf = await readAll(body);
      return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
    },
  };
}

/**
 * The trainer's defaults, written into /openapi.json as each hyperparameter's `default`, so a client (the
 * console's form) shows what an empty field means. They come from trainer/train/defaults.ts, the values
 * run-job actually applies, rather than being restated in the request schema.
 */
import { trainDefaults } from '../../trainer/train/defaults.ts';

/** Defaults that are not trainer options of their own (applied by run-job's trainOptionsFromSpec). */
const JOB_DEFAULTS: Record<string, unknown> = { trainLayernorms: true };

interface SchemaLike {
  properties?: Record<string, Record<string, unknown>>;
}

/** `doc` with `default` set on every Hyperparameters property that has one (the document is changed in place). */
export function withTrainingDefaults<D extends { components?: { schemas?: Record<string, unknown> } }>(doc: D): D {
  const schema = doc.components?.schemas?.Hyperparameters as SchemaLike | undefined;
  const defaults: Record<string, unknown> = { ...trainDefaults, ...JOB_DEFAULTS };
  for (const [name, property] of Object.entries(schema?.properties ?? {})) {
    if (Object.hasOwn(defaults, name) && property.default === undefined) property.default = defaults[name];
  }
  return doc;
}

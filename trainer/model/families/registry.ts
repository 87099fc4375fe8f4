/** The families the product builds, keyed by config.json's `model_type` (absent: BERT, as before families). */
import type { BertConfig } from '../../../shared/bert-config.ts';
import { ModelFileError } from '../../model-files/errors.ts';
import { bertFamily } from './bert.ts';
import { distilbertFamily } from './distilbert.ts';
import { electraFamily } from './electra.ts';
import type { ModelFamily } from './family.ts';
import { robertaFamily } from './roberta.ts';
import { xlmRobertaFamily } from './xlm-roberta.ts';

const FAMILIES: ReadonlyMap<string, ModelFamily> = new Map(
  [bertFamily, robertaFamily, xlmRobertaFamily, electraFamily, distilbertFamily].map((f) => [f.modelType, f]),
);

export const SUPPORTED_MODEL_TYPES: readonly string[] = [...FAMILIES.keys()];

/** The family of a `model_type`, or undefined. */
export function findFamily(modelType: string): ModelFamily | undefined {
  return FAMILIES.get(modelType);
}

/** The family a parsed config belongs to. */
export function familyOf(config: Pick<BertConfig, 'model_type'>): ModelFamily {
  const family = FAMILIES.get(config.model_type ?? 'bert');
  if (!family)
    throw new ModelFileError(`model_type "${config.model_type}" is not one of ${SUPPORTED_MODEL_TYPES.map((t) => `"${t}"`).join(', ')}`);
  return family;
}

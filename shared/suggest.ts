/**
 * "Did you mean …?" for a name that is not one of ours: the nearest known name by the spelling the user
 * probably meant. Names from other tools come first (Hugging Face's `learning_rate` is our `lr`), then
 * the same name in another case or separator style (`batch_size`, `BatchSize`), then a near spelling.
 */
import { z } from 'zod';

/** What Hugging Face TrainingArguments, the adapters library and PyTorch scripts call our options. */
const OTHER_NAMES: Record<string, string> = {
  learningrate: 'lr',
  numtrainepochs: 'epochs',
  numepochs: 'epochs',
  epoch: 'epochs',
  perdevicetrainbatchsize: 'batchSize',
  trainbatchsize: 'batchSize',
  maxseqlength: 'maxSeqLen',
  maxlength: 'maxSeqLen',
  maxlen: 'maxSeqLen',
  reductionfactor: 'bottleneck',
  adaptersize: 'bottleneck',
  activation: 'nonlinearity',
  hiddendropoutprob: 'dropout',
  seed: 'seeds',
  metricforbestmodel: 'metric',
  labelnames: 'labels',
  textcolumnname: 'textColumn',
  labelcolumnname: 'labelColumn',
  dataset: 'datasetUri',
  trainfile: 'datasetUri',
  validationfile: 'validationUri',
  model: 'baseModel',
  modelnameorpath: 'baseModel',
};

/** Case and separators dropped: `batch_size`, `batch-size` and `BatchSize` are one name. */
const fold = (name: string): string => name.toLowerCase().replace(/[-_\s.]/g, '');

/** Optimal string alignment distance (Levenshtein plus swapping two neighbours). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The known name `given` most likely meant, or undefined when none is close. */
export function closestName(given: string, known: readonly string[]): string | undefined {
  const g = fold(given);
  const alias = OTHER_NAMES[g];
  if (alias !== undefined && known.includes(alias)) return alias;
  const same = known.find((k) => fold(k) === g);
  if (same !== undefined) return same;
  let best: { name: string; distance: number } | undefined;
  for (const k of known) {
    const distance = editDistance(g, fold(k));
    if (best === undefined || distance < best.distance) best = { name: k, distance };
  }
  // Within a third of the name's length (at least 2 edits): closer than that is a typo, farther a guess.
  return best && best.distance <= Math.max(2, Math.floor(g.length / 3)) ? best.name : undefined;
}

/** `"learning_rate" (did you mean "lr"?)`, or just the quoted name when nothing is close. */
export function unknownNameMessage(kind: string, given: readonly string[], known: readonly string[]): string {
  const named = given.map((g) => {
    const near = closestName(g, known);
    return near === undefined ? `"${g}"` : `"${g}" (did you mean "${near}"?)`;
  });
  const what = given.length === 1 ? `unknown ${kind}` : `unknown ${kind}s`;
  return `${what} ${named.join(', ')}; the ${kind}s are: ${known.join(', ')}`;
}

/**
 * The error option of a strict zod object: an unknown key is answered with the nearest known key and the
 * list of all (the object's own keys, extensions included), instead of zod's bare "Unrecognized key".
 */
export function unknownKeysError(kind: string): z.core.$ZodErrorMap {
  return (issue) => {
    if (issue.code !== 'unrecognized_keys' || !(issue.inst instanceof z.ZodObject)) return undefined;
    return unknownNameMessage(kind, issue.keys, Object.keys(issue.inst.shape));
  };
}

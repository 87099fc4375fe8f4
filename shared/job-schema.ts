/**
 * The job spec's schema (jobs/<id>/spec.json), shared by the API, which validates requests with it, and
 * the trainer, which validates spec.json with it again before reading anything the spec names: a spec
 * that did not come through the API (or was altered in the store) is refused, never trusted.
 * Training bounds mirror the trainer CLI's options (docs/cli.md).
 */
import { z } from '@hono/zod-openapi';
import { SLUG_RE, VERSION_RE } from './registry/layout.ts';
import { unknownKeysError } from './suggest.ts';
import { MAX_SWEEP_POINTS, MAX_SWEEP_VALUES, SWEEP_KEYS, type SweepKey, sweepSize } from './sweep.ts';
import { DEFAULT_LABEL_LIMITS, LABEL_LIMIT_ENV, labelLimitsFromEnv, labelListProblem } from './training-data/label-limits.ts';
import { DEFAULT_FIELDS } from './training-data/rows.ts';
import { NONLINEARITIES, SELECTION_METRICS, TRAIN_MODES } from './vocabulary.ts';

/** The registry's slug rule (no path tricks, no upper case) and version ids, as its layout has them. */
export { SLUG_RE, VERSION_RE };

const SLUG_MESSAGE = 'must be 1-64 characters of a-z, 0-9, "_" or "-", starting with a letter or digit';

export const Slug = z.string().regex(SLUG_RE, SLUG_MESSAGE);

/** Whether an object key is a plain path: no empty, "." or ".." segment (`x/../datasets/...`, `a//b`). */
export function isPlainKey(key: string): boolean {
  return key.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..');
}

export const S3Uri = z
  .string()
  .max(1024)
  .regex(/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]\/[^\s]+$/, 'must be an s3://bucket/key URI')
  // Only for what is an s3:// URI at all (else the regex above has said what is wrong, once).
  .refine(
    (uri) => !/^s3:\/\/[^/]+\//.test(uri) || isPlainKey(uri.replace(/^s3:\/\/[^/]+\//, '')),
    'the key must not have empty, "." or ".." segments',
  )
  .openapi({ example: 's3://my-datasets/sst2/train.jsonl' });

/** The deployment's label limits (shared/training-data/label-limits.ts), issue at the label at fault. */
function withinLabelLimits(labels: string[], ctx: z.RefinementCtx): void {
  const problem = labelListProblem(labels, labelLimitsFromEnv());
  if (problem) ctx.addIssue({ code: 'custom', path: problem.index < 0 ? [] : [problem.index], message: problem.reason });
}
const columnName = (what: string, fallback: string, flag: string) =>
  z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({
      description: `CSV/TSV: the header of the column holding ${what}; JSONL: its field (default "${fallback}"). Applies to validationUri too. The trainer CLI's ${flag}.`,
    });

/** Which columns (CSV/TSV) or fields (JSONL) of the dataset hold the text, its pair and the label. */
const DatasetColumnsShape = {
  textColumn: columnName('the text', DEFAULT_FIELDS.text, '--text-column'),
  textPairColumn: columnName('the second text of a pair', DEFAULT_FIELDS.textPair, '--text-pair-column'),
  labelColumn: columnName('the label', DEFAULT_FIELDS.label, '--label-column'),
};

const positiveUnit = (what: string) => z.number().gt(0, `${what} must be > 0`).lte(1, `${what} must be <= 1`);

export const HyperparametersSchema = z.strictObject(
  {
    mode: z
      .enum(TRAIN_MODES)
      .optional()
      .openapi({ description: 'What is trained: bottleneck adapters (+ LayerNorms + head), the full model, or the head only.' }),
    bottleneck: z.number().int().min(1).max(4096).optional().openapi({ description: 'Adapter bottleneck size.', example: 64 }),
    nonlinearity: z.enum(NONLINEARITIES).optional(),
    initStd: positiveUnit('initStd').optional().openapi({ example: 0.001 }),
    adapterLayers: z
      .string()
      .regex(/^\d{1,3}(-\d{1,3})?$/, 'must be a layer index or a range like "0-11"')
      .refine((s) => {
        const [a, b] = s.split('-').map(Number);
        return b === undefined || a <= b;
      }, 'range start must not exceed its end')
      .optional()
      .openapi({ example: '0-11' }),
    trainLayernorms: z.boolean().optional().openapi({
      description:
        'Adapter mode: also train the LayerNorms (default true). false freezes them, so the adapter is exactly what the Python adapters library trains and loads (no layernorms.safetensors needed).',
    }),
    epochs: z.number().int().min(1).max(100).optional().openapi({ example: 3 }),
    lr: positiveUnit('lr').optional().openapi({ example: 1e-4 }),
    batchSize: z.number().int().min(1).max(1024).optional().openapi({ example: 32 }),
    maxSeqLen: z.number().int().min(8).max(512).optional().openapi({ example: 128 }),
    seeds: z
      .array(
        z
          .number()
          .int()
          .min(0)
          .max(2 ** 31 - 1),
      )
      .min(1)
      .max(10)
      .refine((s) => new Set(s).size === s.length, 'seeds must be distinct')
      .optional()
      .openapi({ example: [1, 2, 3] }),
    weightDecay: z.number().min(0).max(1).optional(),
    warmupRatio: z.number().min(0).lt(1).optional(),
    dropout: z.number().min(0).lt(1).optional(),
    validationSplit: z.number().gt(0).lt(1).optional(),
    evalSteps: z.number().int().min(1).max(1_000_000).optional(),
    earlyStoppingPatience: z.number().int().min(1).max(1000).optional(),
    metric: z.enum(SELECTION_METRICS).optional(),
    labels: z
      .array(z.string().min(1))
      .min(2)
      .superRefine(withinLabelLimits)
      .refine((s) => new Set(s).size === s.length, 'labels must be distinct')
      .optional()
      .openapi({
        description: `The classes, in head order (default: from the data). At most ${DEFAULT_LABEL_LIMITS.maxLabels} labels of at most ${DEFAULT_LABEL_LIMITS.maxLabelChars} characters unless the deployment sets ${LABEL_LIMIT_ENV.maxLabels} / ${LABEL_LIMIT_ENV.maxLabelChars}.`,
      }),
    maxSteps: z.number().int().min(1).max(10_000_000).optional(),
    ...DatasetColumnsShape,
  },
  // `learning_rate` is answered with "did you mean lr" and the list, not a bare "Unrecognized key".
  { error: unknownKeysError('hyperparameter') },
);

/** A sweep key: its one value, or a list of 2 to MAX_SWEEP_VALUES distinct values, each as the key alone allows. */
const sweepable = <T extends z.ZodType>(one: T) =>
  z
    .union([
      one,
      z
        .array(one)
        .min(2, 'a swept hyperparameter lists at least 2 values (give one value without a list)')
        .max(MAX_SWEEP_VALUES, `a swept hyperparameter lists at most ${MAX_SWEEP_VALUES} values`)
        .refine((vs) => new Set(vs.map((v) => JSON.stringify(v))).size === vs.length, 'values must be distinct'),
    ])
    .optional();

const one = HyperparametersSchema.shape;
/** A sweep key's one-value schema, as HyperparametersSchema takes it. */
type One<K extends SweepKey> = (typeof one)[K] extends z.ZodOptional<infer T extends z.ZodType> ? T : never;
/** Every sweep key's schema, built from SWEEP_KEYS: the key's own schema, or a list of its values. */
const sweepShape = Object.fromEntries(SWEEP_KEYS.map((key) => [key, sweepable(one[key].unwrap())])) as {
  [K in SweepKey]: z.ZodOptional<z.ZodUnion<[One<K>, z.ZodArray<One<K>>]>>;
};

/**
 * Hyperparameters as POST /finetune takes them: any sweep key (shared/sweep.ts) may list values, and the
 * job then trains every combination (a grid of at most MAX_SWEEP_POINTS points) and publishes the best.
 */
export const SweepHyperparametersSchema = HyperparametersSchema.extend(sweepShape)
  .superRefine((h, ctx) => {
    const size = sweepSize(h);
    if (size > MAX_SWEEP_POINTS)
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `the sweep spans ${size} points (the product of the listed values' counts), over the limit of ${MAX_SWEEP_POINTS}`,
      });
  })
  .openapi('Hyperparameters', {
    description: `Training options. Any of ${SWEEP_KEYS.join(', ')} may list 2 to ${MAX_SWEEP_VALUES} values: the job is then a sweep over every combination (at most ${MAX_SWEEP_POINTS} points), and the best point on validation is published.`,
  });

/** A sweep picks its best point on validation data: a request or spec with a sweep and none is refused. */
export function requireSweepValidation(
  job: { validationUri?: string; hyperparameters?: z.infer<typeof SweepHyperparametersSchema> },
  ctx: z.RefinementCtx,
): void {
  const h = job.hyperparameters;
  if (h && sweepSize(h) > 1 && job.validationUri === undefined && h.validationSplit === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['hyperparameters'],
      message: 'a sweep picks its best point on validation data: give validationUri or hyperparameters.validationSplit',
    });
}

/** jobs/<id>/spec.json as the API writes it (shared/job.ts's JobSpec). */
export const JobSpecSchema = z
  .object({
    format: z.literal('adapter-store.job/v1'),
    jobId: Slug,
    task: Slug,
    datasetUri: S3Uri,
    validationUri: S3Uri.optional(),
    baseModel: Slug,
    hyperparameters: SweepHyperparametersSchema,
    createdAt: z.string().datetime(),
    budget: z
      .object({ maxSteps: z.number().int().min(1) })
      .strict()
      .optional(),
    owner: z
      .string()
      .regex(/^[0-9a-f]{16}$/)
      .optional(),
  })
  .strict()
  .superRefine(requireSweepValidation);

/**
 * The API's request and response schemas. The same zod objects validate requests (through
 * @hono/zod-openapi) and generate /openapi.json, so the documented bounds are the enforced ones.
 * Training bounds mirror the trainer CLI's options (docs/cli.md).
 */
import { z } from '@hono/zod-openapi';
import { JOB_EVENT_ID_RE, JobEventSchema } from '../shared/job-events.ts';
// The job's own schemas live in shared/ so that the trainer re-validates spec.json with them.
import { requireSweepValidation, S3Uri, Slug, SweepHyperparametersSchema, VERSION_RE } from '../shared/job-schema.ts';
import { BelowMajoritySchema } from '../shared/majority-baseline.ts';
import { ADAPTER_FILES, OPTIONAL_ADAPTER_FILES } from '../shared/registry/index.ts';
import { unknownKeysError } from '../shared/suggest.ts';
import { DATASET_FORMATS, JOB_STATES, SELECTION_METRICS, TRAIN_MODES } from '../shared/vocabulary.ts';

export {
  HyperparametersSchema,
  isPlainKey,
  JobSpecSchema,
  S3Uri,
  SLUG_RE,
  Slug,
  SweepHyperparametersSchema,
  VERSION_RE,
} from '../shared/job-schema.ts';

export const FinetuneRequestSchema = z
  .strictObject(
    {
      task: Slug.openapi({ description: 'Task name; the adapter is published under adapters/<task>/.', example: 'sst2' }),
      datasetUri: S3Uri.openapi({ description: 'Training data (JSONL, CSV or TSV) in a bucket this deployment allows.' }),
      validationUri: S3Uri.optional(),
      baseModel: Slug.optional().openapi({
        description: 'A base model in the registry (models/<name>/); the deployment default when absent.',
        example: 'bert-base-uncased',
      }),
      hyperparameters: SweepHyperparametersSchema.optional(),
    },
    { error: unknownKeysError('field') },
  )
  .superRefine(requireSweepValidation)
  .openapi('FinetuneRequest');

export const JobStateSchema = z.enum(JOB_STATES);

const MetricsSchema = z
  .object({ loss: z.number(), accuracy: z.number(), macroF1: z.number(), mcc: z.number(), examples: z.number() })
  .openapi('ValidationMetrics');

const SweepPointSchema = z
  .object({
    point: z.number().int(),
    settings: z
      .record(z.string(), z.unknown())
      .openapi({ description: "The swept hyperparameters' values at this point.", example: { lr: 0.001, bottleneck: 64 } }),
    status: JobStateSchema,
    progress: z.object({ step: z.number(), totalSteps: z.number(), fraction: z.number() }),
    score: z.number().nullable().openapi({ description: 'Once trained: the selection metric on validation, mean over the seeds.' }),
    metrics: MetricsSchema.nullable().openapi({
      description: "Latest validation metrics while training; the best seed's best once trained.",
    }),
    error: z.object({ message: z.string() }).nullable(),
  })
  .openapi('SweepPoint');

const SweepSchema = z
  .object({
    metric: z.enum(SELECTION_METRICS),
    points: z.array(SweepPointSchema),
    bestPoint: z.number().int().nullable().openapi({ description: 'The point published as the version, once the sweep succeeded.' }),
  })
  .openapi('Sweep');

export const JobSchema = z
  .object({
    object: z.literal('finetune.job'),
    jobId: z.string().openapi({ example: 'ft-mh3k2l9a0-3f9c1a2b7d4e8f01' }),
    status: JobStateSchema,
    task: z.string(),
    baseModel: z.string(),
    datasetUri: z.string(),
    validationUri: z.string().nullable(),
    hyperparameters: SweepHyperparametersSchema,
    createdAt: z.string(),
    updatedAt: z.string().nullable(),
    startedAt: z.string().nullable(),
    finishedAt: z.string().nullable(),
    progress: z.object({ step: z.number(), totalSteps: z.number(), epoch: z.number(), fraction: z.number() }),
    loss: z.number().nullable(),
    metrics: MetricsSchema.nullable(),
    adapterVersion: z.string().nullable(),
    error: z.object({ message: z.string() }).nullable(),
    sweep: SweepSchema.nullable().openapi({
      description: 'For a sweep (hyperparameters listing values): every point, and the one published.',
    }),
    belowMajority: BelowMajoritySchema.nullable(),
    waiting: z.object({ reason: z.string() }).nullable().openapi({
      description:
        "Why a queued job has not started, in the launcher's words when it knows (on AWS: Batch's reason, e.g. no GPU capacity); a job left waiting past the deployment's bound is cancelled and reads failed with that reason.",
    }),
  })
  .openapi('FinetuneJob');

export const JobListSchema = z
  .object({ object: z.literal('list'), data: z.array(JobSchema), hasMore: z.boolean(), nextCursor: z.string().nullable() })
  .openapi('FinetuneJobList');

export const ManifestSchema = z
  .object({
    format: z.literal('adapter-store.manifest/v1'),
    task: z.string(),
    version: z.string(),
    createdAt: z.string(),
    jobId: z.string().nullable(),
    baseModel: z.object({ name: z.string(), weightsSha256: z.string() }),
    mode: z.enum(TRAIN_MODES),
    labels: z.array(z.string()),
    files: z.array(z.object({ name: z.string(), bytes: z.number(), sha256: z.string() })),
    parameters: z.object({ trainable: z.number(), total: z.number() }),
    metrics: z.object({ loss: z.number(), accuracy: z.number(), macroF1: z.number(), mcc: z.number() }).nullable(),
    belowMajority: BelowMajoritySchema.optional(),
  })
  .openapi('AdapterManifest');

export const AdapterSummarySchema = z
  .object({
    task: z.string(),
    latestVersion: z.string(),
    createdAt: z.string(),
    baseModel: z.string(),
    mode: z.string(),
    labels: z.array(z.string()),
  })
  .openapi('AdapterSummary');

export const AdapterListSchema = z
  .object({ object: z.literal('list'), data: z.array(AdapterSummarySchema), hasMore: z.boolean(), nextCursor: z.string().nullable() })
  .openapi('AdapterList');

/** The `limit` query parameter of a paginated listing: 1..max items, `dflt` when absent. */
function pageLimit(max: number, dflt: number) {
  return z.coerce
    .number()
    .int()
    .min(1)
    .max(max)
    .default(dflt)
    .openapi({ param: { name: 'limit', in: 'query' } });
}

export const ListAdaptersQuery = z.object({
  limit: pageLimit(100, 50),
  after: Slug.optional().openapi({ param: { name: 'after', in: 'query' }, description: 'Cursor: the last task of the previous page.' }),
});

export const AdapterDetailSchema = z
  .object({ task: z.string(), latestVersion: z.string(), versions: z.array(z.string()), manifest: ManifestSchema })
  .openapi('AdapterDetail');

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string().optional(),
    instance: z.string().optional(),
    'invalid-params': z.array(z.object({ name: z.string(), reason: z.string() })).optional(),
  })
  .openapi('Problem');

export const HealthSchema = z.object({ status: z.literal('ok') });

export const TaskParam = z.object({ task: Slug.openapi({ param: { name: 'task', in: 'path' }, example: 'sst2' }) });
export const JobIdParam = z.object({ jobId: Slug.openapi({ param: { name: 'jobId', in: 'path' } }) });
export const VersionParams = z.object({
  task: Slug.openapi({ param: { name: 'task', in: 'path' } }),
  version: z
    .string()
    .regex(VERSION_RE, 'must be a version id like 20250101T120000000Z-0123456789abcdef')
    .openapi({ param: { name: 'version', in: 'path' } }),
});
export const ListJobsQuery = z.object({
  task: Slug.optional().openapi({ param: { name: 'task', in: 'query' } }),
  limit: pageLimit(100, 20),
  after: Slug.optional().openapi({ param: { name: 'after', in: 'query' }, description: 'Cursor: the last jobId of the previous page.' }),
});
export const DownloadQuery = z.object({
  version: z
    .string()
    .regex(VERSION_RE, 'must be a version id')
    .optional()
    .openapi({ param: { name: 'version', in: 'query' } }),
  file: z
    .enum([...ADAPTER_FILES, ...OPTIONAL_ADAPTER_FILES])
    .default('adapter.safetensors')
    .openapi({ param: { name: 'file', in: 'query' } }),
});
export const IdempotencyHeader = z.object({
  'idempotency-key': z
    .string()
    .min(1)
    .max(255)
    .optional()
    .openapi({
      param: { name: 'idempotency-key', in: 'header' },
      description: 'A retried request with the same key and body returns the same job.',
    }),
});

export type FinetuneRequest = z.infer<typeof FinetuneRequestSchema>;
export type Job = z.infer<typeof JobSchema>;
export type Problem = z.infer<typeof ProblemSchema>;

// --- datasets --------------------------------------------------------------------------------------

const DATASET_NAME_MESSAGE =
  'must be 1-128 characters of letters, digits, ".", "_" or "-", starting with a letter or digit, ending in .jsonl, .ndjson, .json, .csv, .tsv or .tab (optionally .gz)';
export const DatasetName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, DATASET_NAME_MESSAGE)
  .refine((n) => !n.includes('..') && /\.(jsonl|ndjson|json|csv|tsv|tab)(\.gz)?$/i.test(n), DATASET_NAME_MESSAGE)
  .openapi({ example: 'sentiment.jsonl' });

/** A column name as a query parameter: the upload is checked with the columns the job will read. */
const columnParam = (name: string, flag: string) =>
  z
    .string()
    .min(1)
    .max(200)
    .optional()
    .openapi({
      param: { name, in: 'query' },
      description: `CSV/TSV column (JSONL field) to check for, when not the default; give the job the same hyperparameters.${name} (the trainer CLI's ${flag}).`,
    });

export const DatasetQuery = z.object({
  name: DatasetName.optional().openapi({
    param: { name: 'name', in: 'query' },
    description: 'The file name (its extension gives the format); required with a raw body.',
  }),
  textColumn: columnParam('textColumn', '--text-column'),
  textPairColumn: columnParam('textPairColumn', '--text-pair-column'),
  labelColumn: columnParam('labelColumn', '--label-column'),
});

/** Up to 5 GiB: S3's single-PUT limit, which a presigned PUT is. */
export const MAX_PRESIGNED_DATASET_BYTES = 5 * 1024 ** 3;

export const DatasetUploadRequestSchema = z
  .object({
    name: DatasetName,
    bytes: z
      .number()
      .int()
      .min(1)
      .max(MAX_PRESIGNED_DATASET_BYTES)
      .openapi({ description: 'Exact size of the file to upload.', example: 104857600 }),
  })
  .strict()
  .openapi('DatasetUploadRequest');

export const DatasetSchema = z
  .object({
    object: z.literal('dataset'),
    datasetUri: z.string().openapi({ example: 's3://adapter-store/datasets/3f1c2b0a9d8e7f6a/sentiment.jsonl' }),
    name: z.string(),
    bytes: z.number().int(),
    sha256: z.string(),
    rows: z.number().int(),
    format: z.enum(DATASET_FORMATS),
    labels: z.record(z.string(), z.number().int()).openapi({ description: 'Rows per label.' }),
  })
  .openapi('Dataset');

export const DatasetUploadSchema = z
  .object({
    object: z.literal('dataset.upload'),
    datasetUri: z.string(),
    name: z.string(),
    bytes: z.number().int(),
    uploadUrl: z.string().openapi({ description: 'PUT the file here, with exactly `bytes` bytes, before `expiresAt`.' }),
    method: z.literal('PUT'),
    expiresAt: z.string(),
  })
  .openapi('DatasetUpload');

// --- job events and checkpoints --------------------------------------------------------------------

const EventCursor = z.string().regex(JOB_EVENT_ID_RE, 'must be an event id like 00000003-0012');

export const ListEventsQuery = z.object({
  after: EventCursor.optional().openapi({
    param: { name: 'after', in: 'query' },
    description: 'Cursor: the id of the last event seen (poll with it to get only newer events).',
  }),
  limit: pageLimit(1000, 100),
  stream: z
    .enum(['true', 'false'])
    .optional()
    .openapi({
      param: { name: 'stream', in: 'query' },
      description: 'true: a Server-Sent Events stream of the events as they come (local server only; on AWS, poll).',
    }),
});

export const JobEventListSchema = z
  .object({ object: z.literal('list'), data: z.array(JobEventSchema), hasMore: z.boolean(), nextCursor: z.string().nullable() })
  .openapi('FinetuneEventList');

export const ListCheckpointsQuery = z.object({
  after: EventCursor.optional().openapi({
    param: { name: 'after', in: 'query' },
    description: 'Cursor: the id of the last checkpoint seen.',
  }),
  limit: pageLimit(100, 20),
});

export const CheckpointSchema = z
  .object({
    object: z.literal('finetune.checkpoint'),
    id: z.string().openapi({ description: 'The id of its checkpoint-saved event.' }),
    jobId: z.string(),
    createdAt: z.string(),
    seed: z.number().int(),
    step: z.number().int(),
    metrics: z.object({
      trainLoss: z.number().nullable(),
      validation: z
        .object({ loss: z.number(), accuracy: z.number(), macroF1: z.number(), mcc: z.number(), examples: z.number() })
        .nullable(),
    }),
  })
  .openapi('FinetuneCheckpoint');

export const CheckpointListSchema = z
  .object({ object: z.literal('list'), data: z.array(CheckpointSchema), hasMore: z.boolean(), nextCursor: z.string().nullable() })
  .openapi('FinetuneCheckpointList');

export const AdapterMetricsSchema = z
  .looseObject({
    task: z.string(),
    metric: z.string(),
    selectedSeed: z.number(),
    steps: z.array(z.object({ step: z.number(), epoch: z.number(), loss: z.number(), lr: z.number(), gradNorm: z.number() })),
    validation: z.array(z.looseObject({ step: z.number(), epoch: z.number(), loss: z.number(), accuracy: z.number() })),
    best: z.looseObject({ step: z.number(), loss: z.number(), accuracy: z.number() }).nullable(),
  })
  .openapi('AdapterMetrics', {
    description: "The version's metrics.json as the trainer wrote it (more fields than listed may be present).",
  });

/**
 * A job's event log (GET /finetune/:jobId/events): what happened to the job, in the order it was
 * recorded, each event typed by `type` with its own `data`. The API writes its own (created,
 * dataset-validated, queued, cancel-requested); run-job writes the trainer's. Both append through
 * Registry.jobs.appendEvents, which stores them in immutable pages (jobs/<id>/events/<seq>.json).
 * The zod schemas are the contract: they document the API (OpenAPI) and type both writers.
 */
import { z } from '@hono/zod-openapi';
import { BelowMajoritySchema } from './majority-baseline.ts';
import { JOB_EVENT_LEVELS, SELECTION_METRICS, TRAIN_MODES } from './vocabulary.ts';

const Validation = z
  .object({ loss: z.number(), accuracy: z.number(), macroF1: z.number(), mcc: z.number(), examples: z.number() })
  .openapi('EventValidationMetrics');
const Best = Validation.extend({ step: z.number().int(), epoch: z.number() }).nullable();
const SelectionMetric = z.enum(SELECTION_METRICS);

/** Each event type and its data. */
export const JOB_EVENT_DATA = {
  created: z.object({ task: z.string(), baseModel: z.string(), datasetUri: z.string(), validationUri: z.string().nullable() }),
  /** The API's checks: the datasets exist and are readable, the base model exists. Rows are read when training starts. */
  'dataset-validated': z.object({ datasetUri: z.string(), validationUri: z.string().nullable() }),
  queued: z.object({}),
  'cancel-requested': z.object({}),
  running: z.object({}),
  'training-started': z.object({
    examples: z.number().int(),
    validationExamples: z.number().int(),
    labels: z.array(z.string()),
    totalSteps: z.number().int(),
    seeds: z.array(z.number().int()),
    mode: z.enum(TRAIN_MODES),
    trainableParameters: z.number().int(),
    totalParameters: z.number().int(),
  }),
  'rows-skipped': z.object({
    train: z.number().int(),
    validation: z.number().int(),
    first: z.array(z.object({ line: z.number().int(), reason: z.string() })),
  }),
  resumed: z.object({ seed: z.number().int(), step: z.number().int() }),
  metrics: z.object({
    seed: z.number().int(),
    step: z.number().int(),
    totalSteps: z.number().int(),
    epoch: z.number(),
    loss: z.number().openapi({ description: 'Mean training loss over the `steps` steps up to and including `step`.' }),
    lr: z.number(),
    gradNorm: z.number(),
    examplesPerSecond: z.number().openapi({ description: 'Training throughput over those steps.' }),
    steps: z.number().int(),
  }),
  evaluation: Validation.extend({
    seed: z.number().int(),
    step: z.number().int(),
    epoch: z.number(),
    metric: SelectionMetric,
    score: z.number(),
    improved: z.boolean(),
  }),
  'checkpoint-saved': z.object({
    seed: z.number().int(),
    step: z.number().int(),
    trainLoss: z.number().nullable().openapi({ description: 'The latest metrics event loss before the checkpoint.' }),
    validation: Validation.nullable().openapi({ description: 'The latest evaluation before the checkpoint.' }),
  }),
  'early-stopped': z.object({ seed: z.number().int(), step: z.number().int(), epoch: z.number(), patience: z.number().int() }),
  'seed-finished': z.object({ seed: z.number().int(), best: Best, stoppedEarly: z.boolean() }),
  'training-finished': z.object({ selectedSeed: z.number().int(), best: Best, examplesPerSecond: z.number(), peakRssMb: z.number() }),
  succeeded: z.object({
    adapterVersion: z.string(),
    metrics: z.object({ loss: z.number(), accuracy: z.number(), macroF1: z.number(), mcc: z.number() }).nullable(),
  }),
  failed: z.object({ reason: z.string() }),
  /** A sweep's point began training (its settings: the swept hyperparameters' values there). */
  'point-started': z.object({ point: z.number().int(), settings: z.record(z.string(), z.unknown()) }),
  /** A sweep's point ended: its score (mean over seeds of the selection metric), or why it failed. */
  'point-finished': z.object({
    point: z.number().int(),
    settings: z.record(z.string(), z.unknown()),
    state: z.enum(['succeeded', 'failed']),
    score: z.number().nullable(),
    reason: z.string().nullable(),
  }),
  /** The sweep's winner, chosen on validation; it is what gets published. */
  'sweep-selected': z.object({
    point: z.number().int(),
    settings: z.record(z.string(), z.unknown()),
    metric: SelectionMetric,
    score: z.number(),
    points: z.number().int(),
    finished: z.number().int(),
  }),
  cancelled: z.object({ reason: z.string() }),
  /** The guardrail: the selected validation score is not above the majority-class predictor's (the adapter is still published). */
  'below-majority': BelowMajoritySchema,
  /** Something went wrong that the job survives (a checkpoint upload failed, a stale checkpoint was ignored). */
  warning: z.object({ reason: z.string() }),
} as const;

export type JobEventType = keyof typeof JOB_EVENT_DATA;
export const JOB_EVENT_TYPES = Object.keys(JOB_EVENT_DATA) as JobEventType[];
export const TERMINAL_EVENT_TYPES: readonly JobEventType[] = ['succeeded', 'failed', 'cancelled'];

export const JobEventLevel = z.enum(JOB_EVENT_LEVELS);

/** "<page seq, 8 digits>-<index in the page, 4 digits>": ids sort in the order events were recorded. */
export const JOB_EVENT_ID_RE = /^\d{8}-\d{4}$/;
export const JOB_EVENT_SEQ_DIGITS = 8;
/** Events per page at most (a writer batches up to this many into one object). */
export const MAX_EVENTS_PER_PAGE = 1000;

export function jobEventId(seq: number, index: number): string {
  return `${String(seq).padStart(JOB_EVENT_SEQ_DIGITS, '0')}-${String(index).padStart(4, '0')}`;
}

const eventOf = <T extends JobEventType>(type: T) =>
  z.object({
    object: z.literal('finetune.event'),
    id: z.string().regex(JOB_EVENT_ID_RE).openapi({ example: '00000003-0012' }),
    createdAt: z.string(),
    level: JobEventLevel,
    type: z.literal(type),
    message: z.string(),
    data: JOB_EVENT_DATA[type],
  });

/** Every event type's schema, one per type (a discriminated union on `type`). */
export const JobEventSchema = z
  .discriminatedUnion(
    'type',
    JOB_EVENT_TYPES.map((t) => eventOf(t)) as unknown as [ReturnType<typeof eventOf>, ...ReturnType<typeof eventOf>[]],
  )
  .openapi('FinetuneEvent');

/** A recorded event: its data typed by its type. */
export type JobEventRecord = {
  [T in JobEventType]: {
    object: 'finetune.event';
    id: string;
    createdAt: string;
    level: z.infer<typeof JobEventLevel>;
    type: T;
    message: string;
    data: z.infer<(typeof JOB_EVENT_DATA)[T]>;
  };
}[JobEventType];

/** An event before it is recorded (the registry gives it its id). */
export type NewJobEvent = JobEventRecord extends infer E ? (E extends JobEventRecord ? Omit<E, 'object' | 'id'> : never) : never;

/** One page object: jobs/<id>/events/<seq>.json. */
export interface JobEventPage {
  format: 'adapter-store.job-events/v1';
  jobId: string;
  seq: number;
  events: JobEventRecord[];
}

const LEVELS: Partial<Record<JobEventType, z.infer<typeof JobEventLevel>>> = {
  'rows-skipped': 'warn',
  'below-majority': 'warn',
  warning: 'warn',
  failed: 'error',
};

/** An event of `type` with `data`, now, at its type's level. */
export function newJobEvent<T extends JobEventType>(
  type: T,
  message: string,
  data: z.infer<(typeof JOB_EVENT_DATA)[T]>,
  at: Date = new Date(),
): NewJobEvent {
  return { createdAt: at.toISOString(), level: LEVELS[type] ?? 'info', type, message, data } as NewJobEvent;
}

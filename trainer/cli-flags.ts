/**
 * The CLI's parsed flags, typed: commander checks and converts each flag (ranges, choices, defaults);
 * these schemas type the object it hands the action and refuse a flag the schema does not know (.strict),
 * so a flag added to a command without its type, or renamed on one side only, fails at once.
 * Flags are named like the TrainOptions fields they set, so `train` maps them with one spread.
 */
import { z } from 'zod';
import {
  BASE_WEIGHT_DTYPES,
  DATASET_FORMATS,
  DEVICES,
  EXPORT_FORMATS,
  LR_SCHEDULES,
  NONLINEARITIES,
  OPTIMIZERS,
  SELECTION_METRICS,
  TRAIN_MODES,
} from '../shared/vocabulary.ts';
import type { TrainOptions } from './train/trainer.ts';

const text = z.string();
const count = z.number();

const deviceFlags = { device: z.enum(DEVICES), threads: count.optional() };
const dataFlags = {
  format: z.enum(DATASET_FORMATS).optional(),
  textColumn: text.optional(),
  textPairColumn: text.optional(),
  labelColumn: text.optional(),
};

export const trainFlags = z
  .object({
    ...deviceFlags,
    ...dataFlags,
    base: text,
    data: text,
    out: text,
    validation: text.optional(),
    task: text.optional(),
    /** Comma-separated. */
    labels: text.optional(),
    mode: z.enum(TRAIN_MODES),
    maxSeqLen: count.optional(),
    bottleneck: count,
    nonlinearity: z.enum(NONLINEARITIES),
    initStd: z.number(),
    adapterLayers: text.optional(),
    trainLayernorms: z.boolean(),
    optimizer: z.enum(OPTIMIZERS),
    lr: z.number(),
    weightDecay: z.number(),
    batchSize: count,
    epochs: count,
    maxSteps: count.optional(),
    schedule: z.enum(LR_SCHEDULES),
    warmupRatio: z.number(),
    maxGradNorm: z.number(),
    dropout: z.number(),
    seed: z.number(),
    seeds: z.array(z.number()).optional(),
    maxBadRows: count,
    validationSplit: z.number().optional(),
    evalSteps: count,
    metric: z.enum(SELECTION_METRICS),
    earlyStoppingPatience: count,
    shuffle: z.boolean(),
    bucketing: z.boolean(),
    padTo: count.optional(),
    checkpointEvery: count,
    checkpointDir: text.optional(),
    resume: z.literal(true).optional(),
    initAdapter: text.optional(),
    quiet: z.literal(true).optional(),
  })
  .strict();

/** `train`'s options from its flags: the same names, except --labels (a list), --seed/--seeds and --quiet. */
export function trainOptionsFromFlags(flags: z.infer<typeof trainFlags>, log: TrainOptions['log']): TrainOptions {
  const { labels, seed, seeds, resume, quiet: _quiet, ...same } = flags;
  return { ...same, labels: labels?.split(',').map((s) => s.trim()), seeds: seeds ?? [seed], resume: resume === true, log };
}

const inferenceFlags = { ...deviceFlags, ...dataFlags, base: text, adapter: text, batchSize: count, data: text };

export const predictFlags = z.object({ ...inferenceFlags, out: text }).strict();

export const evalFlags = z.object({ ...inferenceFlags, out: text.optional() }).strict();

export const runJobFlags = z
  .object({
    ...deviceFlags,
    registry: text,
    job: text,
    statusInterval: z.number(),
    stopWhenStdinCloses: z.literal(true).optional(),
    point: z.number().int().min(0).optional(),
    reduce: z.literal(true).optional(),
    checkpointEvery: z.number().int().min(1).optional(),
  })
  .strict();

export const initBaseFlags = z
  .object({
    out: text,
    vocab: text.optional(),
    vocabSize: count,
    hidden: count,
    layers: count,
    heads: count,
    intermediate: count.optional(),
    maxPositions: count,
    seed: z.number(),
    dtype: z.enum(BASE_WEIGHT_DTYPES),
  })
  .strict();

export const exportFlags = z
  .object({
    format: z.enum(EXPORT_FORMATS),
    adapter: text.optional(),
    registry: text.optional(),
    task: text.optional(),
    version: text.optional(),
    out: text,
    base: text.optional(),
    dtype: text.optional(),
    quantize: text.optional(),
    adaptersAsInputs: z.literal(true).optional(),
    modelName: text.optional(),
  })
  .strict();

export const downloadFlags = z
  .object({ registry: text.optional(), task: text, version: text.optional(), out: text, baseOut: text.optional() })
  .strict();

export const uploadBaseFlags = z.object({ dir: text, name: text, registry: text }).strict();

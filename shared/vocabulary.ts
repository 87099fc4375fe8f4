/**
 * The product's closed value lists, each spelled once. The API's zod enums (and so /openapi.json), the
 * trainer CLI's choices (commander) and the TypeScript types all derive from these arrays.
 * This module imports nothing, so the console (functions/console/ui, a DOM tsconfig) takes its types from
 * here too. Order matters where a list is shown: it is the order of the OpenAPI enums and the CLI help.
 */

/** What is trained: bottleneck adapters (+ LayerNorms + head), every weight, or the head only. */
export const TRAIN_MODES = ['adapter', 'full', 'head'] as const;
export type TrainMode = (typeof TRAIN_MODES)[number];

/** The adapter's non-linearity between its down- and up-projection. */
export const NONLINEARITIES = ['gelu', 'relu', 'swish', 'tanh'] as const;
export type AdapterNonlinearity = (typeof NONLINEARITIES)[number];

/** Validation scores where higher is better: what the majority-class guardrail compares. */
export const SCORE_METRICS = ['accuracy', 'f1', 'mcc'] as const;
export type ScoreMetric = (typeof SCORE_METRICS)[number];

/** The validation metric that selects the best checkpoint, seed and sweep point (loss: lower is better). */
export const SELECTION_METRICS = [...SCORE_METRICS, 'loss'] as const;
export type SelectionMetric = (typeof SELECTION_METRICS)[number];

/** The field of an evaluation (status.json's `validation`, metrics.json) that holds each metric's value. */
export const METRIC_FIELDS = {
  accuracy: 'accuracy',
  f1: 'macroF1',
  mcc: 'mcc',
  loss: 'loss',
} as const satisfies Record<SelectionMetric, string>;

export const OPTIMIZERS = ['adamw', 'sgd'] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

/** The learning rate after warm-up: decays linearly to 0, or stays at its peak. */
export const LR_SCHEDULES = ['linear', 'constant'] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];

/** Where onnxruntime runs a session. */
export const DEVICES = ['cpu', 'cuda'] as const;
export type Device = (typeof DEVICES)[number];

/** A fine-tune job's (and a sweep point's) state: queued -> running -> succeeded | failed | cancelled. */
export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** How much a job event matters (GET /finetune/:jobId/events). */
export const JOB_EVENT_LEVELS = ['info', 'warn', 'error'] as const;
export type JobEventLevel = (typeof JOB_EVENT_LEVELS)[number];

/** Training data files: JSON lines, comma- or tab-separated. */
export const DATASET_FORMATS = ['jsonl', 'csv', 'tsv'] as const;
export type DatasetFormat = (typeof DATASET_FORMATS)[number];

/** `trainer export --format`: a standalone ONNX model, or the Python adapters library's directory. */
export const EXPORT_FORMATS = ['onnx', 'adapterhub'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** How a written model stores its float weights (`export --dtype`, `pretrain --save-dtype`); computing stays float32. */
export const FLOAT_STORAGE_DTYPES = ['f32', 'f16'] as const;
export type FloatStorageDtype = (typeof FLOAT_STORAGE_DTYPES)[number];

/** `export --quantize`: int8 dynamic quantization of the frozen linear weights. */
export const ONNX_QUANTIZATIONS = ['int8'] as const;
export type OnnxQuantization = (typeof ONNX_QUANTIZATIONS)[number];

/** The safetensors dtypes of a base model's weights (`init-base --dtype`), read as float32. */
export const BASE_WEIGHT_DTYPES = ['F32', 'F16', 'BF16'] as const;
export type BaseWeightDtype = (typeof BASE_WEIGHT_DTYPES)[number];

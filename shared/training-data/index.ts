/** Datasets: where they live (local, file://, s3://), their formats (JSONL, CSV, TSV), rows, and the validation split. */

export {
  type Dataset,
  type ReadDatasetOptions,
  readDataset,
  resolveFormat,
  type SkippedRow,
  type StreamEnd,
  streamDataset,
} from './dataset.ts';
export { DataError, DataLimitError } from './errors.ts';
export { DATASET_FORMATS, type DatasetFormat, formatFromName } from './formats.ts';
export { type DatasetColumns, type DatasetSummary, type InspectLimits, inspectDataset } from './inspect.ts';
export { DEFAULT_LABEL_LIMITS, type LabelLimits, labelLimitsFromEnv } from './label-limits.ts';
export { DEFAULT_FIELDS, type FieldNames, labelChecker, type ReadOptions, type TokenizedRow, type Tokenizer } from './rows.ts';
export { type DatasetLocation, type DatasetStream, type OpenOptions, openDatasetStream, parseDatasetUri } from './uri.ts';

/** Datasets: where they live (local, file://, s3://), their formats (JSONL, CSV, TSV), rows, and the validation split. */
export { DataError, DataLimitError } from './errors.ts';
export { readDataset, resolveFormat, streamDataset, type StreamEnd, type Dataset, type ReadDatasetOptions, type SkippedRow } from './dataset.ts';
export { DATASET_FORMATS, formatFromName, type DatasetFormat } from './formats.ts';
export { DEFAULT_FIELDS, labelChecker, type FieldNames, type ReadOptions, type TokenizedRow, type Tokenizer } from './rows.ts';
export { inspectDataset, type DatasetSummary, type InspectLimits } from './inspect.ts';
export { openDatasetStream, parseDatasetUri, type DatasetLocation, type DatasetStream, type OpenOptions } from './uri.ts';

/**
 * readDataset: a dataset URI to validated rows, streamed. The bytes are decoded, parsed and validated
 * as they arrive, so at no point are the raw file and the rows both held in full: only the rows (token
 * ids in shared Int32Array slabs) stay.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { DataError, DataLimitError, RowProblem } from './errors.ts';
import { DATASET_FORMATS, type DatasetFormat, delimitedRecords, formatFromName, jsonlRecords, type RecordItem } from './formats.ts';
import {
  DEFAULT_FIELDS,
  type FieldNames,
  IdAllocator,
  type IdArrays,
  labelChecker,
  type RawRecord,
  type ReadOptions,
  recordToRow,
  type TokenizedRow,
} from './rows.ts';
import { maxLineCharsFromEnv, openText, type TextStream } from './text.ts';
import { openDatasetStream, parseDatasetUri } from './uri.ts';

export interface ReadDatasetOptions extends ReadOptions {
  /** jsonl | csv | tsv; by default from the extension (.jsonl/.ndjson/.json, .csv, .tsv/.tab, each optionally .gz). */
  format?: DatasetFormat;
  /** The text column (CSV/TSV) or field (JSONL); default "text". */
  textColumn?: string;
  /** The optional second segment; default "text_pair". Given explicitly, CSV/TSV files must have it. */
  textPairColumn?: string;
  /** The label column or field; default "label". Given explicitly, CSV/TSV files must have it. */
  labelColumn?: string;
  /** Up to this many bad rows are skipped (each recorded in `skipped`); one more fails. Default 0. */
  maxBadRows?: number;
  /** A given label set (--labels, the training set's for validation data): a label outside it is a bad row. */
  labels?: readonly string[];
  /** The S3 client for s3:// URIs; by default one from the standard AWS environment. */
  s3?: S3Client;
  /** Longest line (JSONL) or record (CSV/TSV) in characters; default ADAPTER_STORE_MAX_LINE_CHARS or 1 MiB. */
  maxLineChars?: number;
  /** Fail (DataLimitError) past this many bytes of (decompressed) text; default none. */
  maxBytes?: number;
  /** Fail (DataLimitError) past this many rows; default none. */
  maxRows?: number;
}

export interface SkippedRow {
  line: number;
  /** The problem, as the error would have put it after `<file>:<line>: `. */
  reason: string;
}

export interface Dataset {
  rows: TokenizedRow[];
  skipped: SkippedRow[];
  /** What messages call the dataset: the local path, or the s3:// URI. */
  name: string;
  format: DatasetFormat;
  /** Whether the bytes were gzip-compressed. */
  gzip: boolean;
}

function fieldNames(o: ReadDatasetOptions): FieldNames {
  const names: FieldNames = {
    ...DEFAULT_FIELDS,
    text: o.textColumn ?? DEFAULT_FIELDS.text,
    textPair: o.textPairColumn ?? DEFAULT_FIELDS.textPair,
    label: o.labelColumn ?? DEFAULT_FIELDS.label,
  };
  for (const [flag, v] of [
    ['--text-column', o.textColumn],
    ['--text-pair-column', o.textPairColumn],
    ['--label-column', o.labelColumn],
  ] as const) {
    if (v !== undefined && v.trim() === '') throw new DataError(`${flag}: empty column name`);
  }
  const used = [names.text, names.textPair, names.label];
  if (new Set(used).size !== used.length)
    throw new DataError(`the text, text-pair and label columns must differ, got ${JSON.stringify(used)}`);
  return names;
}

/** The format to read `name` as: the explicit one, or the extension's. */
export function resolveFormat(name: string, format?: string): DatasetFormat {
  if (format !== undefined) {
    if (!(DATASET_FORMATS as readonly string[]).includes(format))
      throw new DataError(`--format: "${format}" is not one of ${DATASET_FORMATS.join(', ')}`);
    return format as DatasetFormat;
  }
  const f = formatFromName(name);
  if (!f)
    throw new DataError(
      `${name}: cannot tell the format from the file name; name it .jsonl, .csv or .tsv (optionally .gz), or pass --format ${DATASET_FORMATS.join('|')}`,
    );
  return f;
}

/** What a streamed read ends with: the file's format and compression, and the rows it skipped. */
export interface StreamEnd {
  name: string;
  format: DatasetFormat;
  gzip: boolean;
  skipped: SkippedRow[];
}

/**
 * Reads and validates a dataset as a stream of rows (each row is handed over, never kept here); the
 * generator's return value says what was read. Every error is a DataError naming the file and, for a
 * row, the line and field: `<file>:<line>: <problem>`. With `maxBadRows` N, up to N bad rows are skipped
 * and recorded; the (N+1)th fails with its own message. Limits (`maxBytes`, `maxRows`, `maxLineChars`)
 * fail with a DataLimitError as the stream reaches them.
 */
export async function* streamDataset(
  uri: string,
  o: ReadDatasetOptions,
  alloc: IdArrays = new IdAllocator(),
): AsyncGenerator<TokenizedRow, StreamEnd> {
  const maxBadRows = o.maxBadRows ?? 0;
  if (!Number.isSafeInteger(maxBadRows) || maxBadRows < 0) throw new DataError(`--max-bad-rows must be an integer >= 0, got ${maxBadRows}`);
  const names = fieldNames(o);
  const maxLineChars = o.maxLineChars ?? maxLineCharsFromEnv();
  const maxRows = o.maxRows ?? Infinity;
  // Format and URI problems before any I/O.
  const loc = parseDatasetUri(uri);
  const format = resolveFormat(loc.kind === 'file' ? loc.path : uri, o.format);
  const { stream, name } = await openDatasetStream(uri, { s3: o.s3 });
  let text: TextStream | undefined;
  try {
    text = await openText(stream, name, { maxBytes: o.maxBytes });
    const items: AsyncGenerator<RecordItem> =
      format === 'jsonl'
        ? jsonlRecords(text, name, maxLineChars)
        : delimitedRecords(
            text,
            name,
            format,
            {
              names,
              label: o.requireLabels || o.labelColumn !== undefined,
              textPair: o.textPairColumn !== undefined,
            },
            maxLineChars,
          );
    let rows = 0;
    const skipped: SkippedRow[] = [];
    const checkLabel = o.labels ? labelChecker(o.labels) : undefined;
    const toRow = (record: RawRecord, line: number): { row: TokenizedRow } | { problem: string } => {
      try {
        return { row: recordToRow(record, line, o, names, checkLabel, alloc) };
      } catch (err) {
        if (!(err instanceof RowProblem)) throw err;
        return { problem: err.reason };
      }
    };
    for await (const item of items) {
      const checked = item.record ? toRow(item.record, item.line) : { problem: item.problem };
      if ('row' in checked) {
        if (++rows > maxRows) throw new DataLimitError(`${name}:${item.line}: more than ${maxRows} rows (the limit)`, 'rows');
        yield checked.row;
        continue;
      }
      const reason = checked.problem;
      if (skipped.length < maxBadRows) {
        skipped.push({ line: item.line, reason });
        continue;
      }
      const budget = maxBadRows > 0 ? ` (bad row ${maxBadRows + 1}: more than --max-bad-rows ${maxBadRows})` : '';
      throw new DataError(`${name}:${item.line}: ${reason}${budget}`);
    }
    if (rows === 0) {
      const why =
        skipped.length > 0
          ? ` (all ${skipped.length} rows were bad and skipped; the first, line ${skipped[0].line}: ${skipped[0].reason})`
          : '';
      throw new DataError(`${name}: no rows${why}`);
    }
    return { name, format, gzip: text.gzip, skipped };
  } catch (err) {
    if (err instanceof DataError) throw err;
    // A stream failing mid-read (a dropped S3 connection, an I/O error) still names the dataset.
    throw new DataError(`${name}: reading failed (${(err as Error).message})`, { cause: err });
  } finally {
    await text?.close();
    stream.destroy();
  }
}

/** Reads and validates a whole dataset into memory (streamDataset, its rows kept). */
export async function readDataset(uri: string, o: ReadDatasetOptions): Promise<Dataset> {
  const rows: TokenizedRow[] = [];
  const it = streamDataset(uri, o);
  for (;;) {
    const r = await it.next();
    if (r.done) return { rows, ...r.value };
    rows.push(r.value);
  }
}

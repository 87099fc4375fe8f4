/**
 * The file formats, each a stream of records with their line numbers: JSON lines (one object per line)
 * and CSV / TSV with a header row (through csv-parse). Before parsing, the start of the file is checked
 * against the format, so a CSV named .jsonl (or JSON lines named .csv) fails with what it looks like
 * rather than with a parse error on every row.
 */
import { pipeline, Readable } from 'node:stream';
import { CsvError, type Info, parse } from 'csv-parse';
import type { DatasetFormat } from '../vocabulary.ts';
import { DataError, DataLimitError, RowProblem } from './errors.ts';
import { type FieldNames, jsonRecord, type RawRecord } from './rows.ts';
import { MAX_LINE_CHARS, splitLines, type TextStream } from './text.ts';

export { DATASET_FORMATS, type DatasetFormat } from '../vocabulary.ts';

/** The format a file name's extension says (`.gz` looked through), or null when it says none. */
export function formatFromName(name: string): DatasetFormat | null {
  const base = name.replace(/[?#].*$/, '').replace(/\.gz$/i, '');
  const ext = /\.([a-z0-9]+)$/i.exec(base)?.[1]?.toLowerCase();
  if (ext === 'jsonl' || ext === 'ndjson' || ext === 'json') return 'jsonl';
  if (ext === 'csv') return 'csv';
  if (ext === 'tsv' || ext === 'tab') return 'tsv';
  return null;
}

/** A record, or the reason it could not even be parsed into one (a bad row, skippable). */
export type RecordItem = { line: number; record: RawRecord; problem?: undefined } | { line: number; problem: string; record?: undefined };

const FORMAT_NAME: Record<DatasetFormat, string> = { jsonl: 'JSON lines', csv: 'CSV', tsv: 'TSV' };

function quoteStart(s: string): string {
  const t = s.trim();
  return JSON.stringify(t.length > 40 ? `${t.slice(0, 40)}…` : t);
}

/** The first non-blank line of `head`, with its 1-based number. */
function firstLine(head: string): { line: number; text: string } | null {
  const lines = head.split('\n');
  for (let i = 0; i < lines.length; i++) if (lines[i].trim() !== '') return { line: i + 1, text: lines[i].replace(/\r$/, '') };
  return null;
}

/** What a line of text looks like, for "not what its extension says" messages. */
function looksLike(text: string): { what: string; format?: DatasetFormat } {
  const t = text.trim();
  if (t.startsWith('{')) return { what: 'JSON lines', format: 'jsonl' };
  if (t.startsWith('[')) return { what: 'a JSON array (JSON lines has one object per line)' };
  if (t.startsWith('<')) return { what: 'HTML or XML' };
  if (t.includes('\t')) return { what: 'TSV (tab-separated)', format: 'tsv' };
  if (t.includes(',')) return { what: 'CSV', format: 'csv' };
  return { what: 'plain text' };
}

function mismatch(name: string, line: number, expected: DatasetFormat, text: string): DataError {
  const l = looksLike(text);
  const hint = l.format ? `; pass --format ${l.format} if it is` : '';
  return new DataError(
    `${name}:${line}: this does not look like ${FORMAT_NAME[expected]}: it looks like ${l.what}, starting ${quoteStart(text)}${hint}`,
  );
}

/** Checks that the start of the file looks like JSON lines: its first non-blank line is an object (or at least JSON). */
export function checkJsonlHead(head: string, name: string): void {
  const first = firstLine(head);
  if (!first) return;
  const t = first.text.trim();
  if (t.startsWith('{')) return;
  try {
    JSON.parse(t);
    return; // JSON but not an object: a row error ("each line must be a JSON object"), skippable
  } catch {
    throw mismatch(name, first.line, 'jsonl', first.text);
  }
}

/** Checks that the start of the file does not look like JSON (or markup) when CSV/TSV is expected. */
export function checkDelimitedHead(head: string, name: string, format: 'csv' | 'tsv'): void {
  const first = firstLine(head);
  if (!first) return;
  const t = first.text.trim();
  if (t.startsWith('{') || t.startsWith('[') || t.startsWith('<')) throw mismatch(name, first.line, format, first.text);
}

export async function* jsonlRecords(text: TextStream, name: string, maxLineChars = MAX_LINE_CHARS): AsyncGenerator<RecordItem> {
  checkJsonlHead(text.head, name);
  for await (const { line, text: t } of splitLines(text.chunks, name, maxLineChars)) {
    if (t.trim() === '') continue;
    let item: RecordItem;
    try {
      item = { line, record: jsonRecord(t) };
    } catch (err) {
      if (!(err instanceof RowProblem)) throw err;
      item = { line, problem: err.reason };
    }
    yield item;
  }
}

/** Which columns a CSV/TSV file must have. Text (or input_ids) always; the others when asked for. */
export interface ColumnNeeds {
  names: FieldNames;
  /** The label column must exist (labels required, or --label-column given). */
  label: boolean;
  /** The text-pair column must exist (--text-pair-column given). */
  textPair: boolean;
  /** Flags that name each column, for hints. */
  flags?: Partial<Record<'text' | 'textPair' | 'label', string>>;
}

function checkHeader(header: string[], line: number, name: string, format: 'csv' | 'tsv', need: ColumnNeeds): void {
  const have = new Set(header);
  const cols = header.map((c) => JSON.stringify(c)).join(', ');
  // One column holding the other format's delimiter: the wrong format, not a missing column.
  const other = format === 'csv' ? '\t' : ',';
  const wrongDelimiter =
    header.length === 1 && header[0].includes(other)
      ? `; it looks like ${format === 'csv' ? 'TSV' : 'CSV'} (pass --format ${format === 'csv' ? 'tsv' : 'csv'} if it is)`
      : '';
  const missing = (col: string, key: 'text' | 'textPair' | 'label', extra = ''): DataError => {
    const flag = need.flags?.[key] ?? `--${key === 'textPair' ? 'text-pair' : key}-column`;
    return new DataError(
      `${name}:${line}: no column ${JSON.stringify(col)}${extra} in the header; its columns are ${cols}${wrongDelimiter || ` (${flag} names another)`}`,
    );
  };
  const n = need.names;
  if (!have.has(n.text) && !have.has(n.inputIds)) throw missing(n.text, 'text', ` (nor ${JSON.stringify(n.inputIds)})`);
  if (need.label && !have.has(n.label)) throw missing(n.label, 'label');
  if (need.textPair && !have.has(n.textPair)) throw missing(n.textPair, 'textPair');
  const used = new Set([n.text, n.textPair, n.label, n.inputIds, n.tokenTypeIds]);
  const seen = new Set<string>();
  for (const c of header) {
    if (used.has(c) && seen.has(c)) throw new DataError(`${name}:${line}: column ${JSON.stringify(c)} appears twice in the header`);
    seen.add(c);
  }
}

/**
 * CSV (RFC 4180: quoted fields may hold commas, quotes doubled, newlines) or TSV (no quoting: a tab or
 * newline cannot occur in a field, quotes are plain characters, as in the GLUE .tsv files), first
 * record the header. A row whose field count differs from the header's is a bad row; a broken quote is
 * a file error (everything after it would be misread).
 */
export async function* delimitedRecords(
  text: TextStream,
  name: string,
  format: 'csv' | 'tsv',
  need: ColumnNeeds,
  maxRecordChars = MAX_LINE_CHARS,
): AsyncGenerator<RecordItem> {
  checkDelimitedHead(text.head, name, format);
  const parser = parse({
    delimiter: format === 'csv' ? ',' : '\t',
    quote: format === 'csv' ? '"' : false,
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: true,
    info: true,
    // csv-parse buffers a record until it ends: the same cap as a JSON line.
    max_record_size: maxRecordChars,
  });
  pipeline(Readable.from(text.chunks), parser, () => {});
  let header: string[] | null = null;
  try {
    for await (const item of parser as AsyncIterable<{ record: string[]; info: Info }>) {
      const { record, info } = item;
      let newlines = 0;
      for (const f of record) for (let i = f.indexOf('\n'); i >= 0; i = f.indexOf('\n', i + 1)) newlines++;
      const line = info.lines - newlines;
      if (record.every((f) => f.trim() === '')) continue;
      if (!header) {
        header = record.map((c) => c.trim());
        checkHeader(header, line, name, format, need);
        continue;
      }
      if (record.length !== header.length) {
        yield {
          line,
          problem: `has ${record.length} ${record.length === 1 ? 'field' : 'fields'} but the header has ${header.length}${format === 'tsv' && record.length < header.length && record.some((f) => f.includes(',')) ? ' (is it CSV?)' : ''}`,
        };
        continue;
      }
      // No prototype: a column named "__proto__" or "constructor" is just a column.
      const values = Object.create(null) as Record<string, string>;
      for (let i = 0; i < header.length; i++) values[header[i]] = record[i];
      yield { line, record: { kind: 'csv', values } };
    }
  } catch (err) {
    if (err instanceof CsvError && err.code === 'CSV_MAX_RECORD_SIZE') {
      const at = (err as CsvError & { lines?: number }).lines ?? 0;
      throw new DataLimitError(
        `${name}:${at}: record at line ${at} is longer than ${maxRecordChars} characters (the limit; ADAPTER_STORE_MAX_LINE_CHARS raises it)`,
        'line',
      );
    }
    if (err instanceof CsvError) {
      const lines = (err as CsvError & { lines?: number }).lines;
      throw new DataError(`${name}${lines ? `:${lines}` : ''}: malformed ${FORMAT_NAME[format]}: ${err.message}`, { cause: err });
    }
    throw err;
  } finally {
    parser.destroy();
  }
  if (!header) throw new DataError(`${name}: no header row (the file is blank)`);
}

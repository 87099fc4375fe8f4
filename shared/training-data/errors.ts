/** Bad input data; the message starts with `<file>:<line>:` (or `<file>:` for whole-file problems). */
export class DataError extends Error {
  override name = 'DataError';
}

/**
 * Input over a configured limit (bytes, rows, line length: the API answers 413 rather than 400; labels:
 * too many classes or too long a class name, 422).
 */
export class DataLimitError extends DataError {
  override name = 'DataLimitError';
  constructor(
    message: string,
    readonly limit: 'bytes' | 'rows' | 'line' | 'labels',
  ) {
    super(message);
  }
}

/**
 * One bad row, before the file and line are known: `reason` is what follows `<file>:<line>: ` in the
 * DataError the reader builds from it (or the entry it records when --max-bad-rows lets the row be skipped).
 */
export class RowProblem extends Error {
  override name = 'RowProblem';
  constructor(readonly reason: string) {
    super(reason);
  }
}

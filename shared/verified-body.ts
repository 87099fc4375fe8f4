/**
 * A stored file passed on only as what its manifest says it is: the bytes pass through while their sha256
 * and count are taken, and the last chunk is held back until both match. A file changed or swapped in the
 * store ends the stream with an error instead, so neither a client of a download (GET .../download, which
 * sends a Content-Length) nor a copy on disk (Registry.adapters.download) gets a complete file that is
 * not the published one.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

export interface ExpectedFile {
  bytes: number;
  sha256: string;
}

export class FileMismatchError extends Error {
  override name = 'FileMismatchError';
}

/** A pass-through that fails (FileMismatchError, also given to `onMismatch`) unless the bytes are `expected`. */
export function verifiedBody(expected: ExpectedFile, what: string, onMismatch?: (err: FileMismatchError) => void): Transform {
  const hash = createHash('sha256');
  let seen = 0;
  let held: Buffer | null = null;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      seen += chunk.length;
      const out = held;
      held = chunk;
      done(null, out ?? undefined);
    },
    flush(done) {
      const sha256 = hash.digest('hex');
      if (seen !== expected.bytes || sha256 !== expected.sha256) {
        const err = new FileMismatchError(
          `${what}: ${seen} bytes with sha256 ${sha256}, the manifest says ${expected.bytes} bytes, ${expected.sha256}`,
        );
        onMismatch?.(err);
        done(err);
        return;
      }
      done(null, held ?? undefined);
    },
  });
}

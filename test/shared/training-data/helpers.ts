/** Shared by the data tests: a fake tokenizer (character codes), temp files, gzip. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { ReadOptions, Tokenizer } from '../../../shared/training-data/rows.ts';

export const VOCAB = 300;

function codes(text: string): number[] {
  return Array.from(text, (c) => 3 + (c.codePointAt(0)! % (VOCAB - 3)));
}

/** [CLS]=1 chars [SEP]=2 (pair chars [SEP]=2), token types 0…0 1…1: enough to see what was encoded. */
export const charTokenizer: Tokenizer = {
  encode(text: string, textPair?: string) {
    const a = [1, ...codes(text), 2];
    const b = textPair === undefined ? [] : [...codes(textPair), 2];
    return { inputIds: [...a, ...b], tokenTypeIds: [...a.map(() => 0), ...b.map(() => 1)] };
  },
};

export const expectIds = (text: string, pair?: string): number[] => Array.from(charTokenizer.encode(text, pair).inputIds);

export const opts: ReadOptions = { vocabSize: VOCAB, maxPositions: 64, typeVocabSize: 2, requireLabels: true, tokenizer: charTokenizer };

/** A temp directory removed when the test file ends, and a writer of files in it. */
export function tempDir(prefix: string): { dir: string; file: (name: string, content: string | Uint8Array) => string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return {
    dir,
    file(name, content) {
      const p = join(dir, name);
      writeFileSync(p, content);
      return p;
    },
  };
}

export const jsonl = (...rows: unknown[]): string => `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`;
export const gzip = (s: string): Buffer => gzipSync(Buffer.from(s, 'utf8'));

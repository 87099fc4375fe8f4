/**
 * Our tokenizers for the Hugging Face parity check (tokenizer_parity.py): reads <job.json>
 * {jobs: [{dir, family, maxSeqLen, cases: [{text, pair?, truncation?}]}]} and writes, next to it,
 * <job>.ours.json: per job {format, encodings: [{input_ids, token_type_ids, attention_mask, position_ids} | {error}]}
 * (position_ids of the row followed by three pads).
 *
 *   node --import tsx test/parity/tokenizer_encode.ts <job.json>
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { loadTokenizer, type PairTruncation, type TokenizerFamily } from '../../trainer/tokenizer/load-tokenizer.ts';

interface Case {
  text: string;
  pair?: string;
  truncation?: PairTruncation;
}
interface Job {
  dir: string;
  family: TokenizerFamily;
  maxSeqLen: number;
  cases: Case[];
}

const path = process.argv[2];
const { jobs } = JSON.parse(readFileSync(path, 'utf8')) as { jobs: Job[] };
const out = [];
for (const job of jobs) {
  const tok = await loadTokenizer(job.dir, { family: job.family, maxSeqLen: job.maxSeqLen });
  const encodings = job.cases.map((c) => {
    try {
      const e = c.pair === undefined ? tok.encode(c.text) : tok.encodePair(c.text, c.pair, c.truncation);
      return {
        input_ids: e.inputIds,
        token_type_ids: e.tokenTypeIds,
        attention_mask: e.attentionMask,
        position_ids: tok.positionIds([...e.inputIds, tok.padId, tok.padId, tok.padId]),
      };
    } catch (e) {
      return { error: (e as Error).message };
    }
  });
  out.push({ format: tok.format, encodings });
}
writeFileSync(path.replace(/\.json$/, '.ours.json'), JSON.stringify(out));

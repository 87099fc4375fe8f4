/** A registry on a test S3 server holding what the job tests run on: the tiny base and the toy datasets. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from '../../shared/registry/index.ts';
import type { S3TestServer } from './s3-server.ts';
import { BROKEN_JSONL, TOY_JSONL, writeTinyBert } from './tiny-bert.ts';

/** Bucket "registry" with models/tiny (the tiny BERT) and datasets/toy.jsonl and datasets/broken.jsonl. */
export async function tinyRegistry(s3: S3TestServer, tmpPrefix: string): Promise<Registry> {
  await s3.createBucket('registry');
  const registry = Registry.fromUri('s3://registry', s3.client);
  const dir = join(mkdtempSync(join(tmpdir(), tmpPrefix)), 'tiny');
  writeTinyBert(dir);
  await registry.models.upload('tiny', dir, ['config.json', 'model.safetensors', 'vocab.txt']);
  await s3.putObject('registry', 'datasets/toy.jsonl', TOY_JSONL);
  await s3.putObject('registry', 'datasets/broken.jsonl', BROKEN_JSONL);
  return registry;
}

/**
 * POST /datasets against a real S3-compatible server: raw uploads are checked row by row and stored
 * content-addressed (201 with the URI, size, sha256, rows and label counts); every bad input is a
 * problem+json naming the field and stores nothing; JSON {name, bytes} answers a presigned PUT that
 * really uploads to the server.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { OpenAPIHono } from '@hono/zod-openapi';
import { type AppDeps, createApp } from '../../../functions/app.ts';
import { Registry } from '../../../shared/registry/index.ts';
import { idleLauncher } from '../../support/idle-launcher.ts';
import { type S3TestServer, startS3Server } from '../../support/s3-server.ts';

const KEY = 'datasets-key';
let s3: S3TestServer;
let registry: Registry;
let app: OpenAPIHono;

const launcher = idleLauncher;

/** The app of these tests on the test registry; `over` sets the dataset limits a test needs. */
function datasetsApp(over: Partial<AppDeps>): OpenAPIHono {
  return createApp({
    registry,
    launcher,
    apiKeys: [KEY],
    allowedDatasetBuckets: ['registry'],
    defaultBaseModel: 'tiny',
    downloads: 'stream',
    log: () => {},
    ...over,
  });
}

before(async () => {
  s3 = await startS3Server();
  await s3.createBucket('registry');
  registry = Registry.fromUri('s3://registry', s3.client);
  app = datasetsApp({ maxDatasetBytes: 4096, signUploadUrl: (key, bytes, expiresIn) => registry.presignPut(key, bytes, expiresIn) });
});

after(async () => {
  await s3?.stop();
});

interface Problem {
  status: number;
  detail: string;
  'invalid-params': { name: string; reason: string }[];
}

function upload(name: string | null, body: string | Uint8Array, contentType = 'application/x-ndjson'): Promise<Response> {
  const q = name === null ? '' : `?name=${encodeURIComponent(name)}`;
  return Promise.resolve(
    app.request(`/datasets${q}`, { method: 'POST', headers: { authorization: `Bearer ${KEY}`, 'content-type': contentType }, body }),
  );
}

async function storedDatasets(): Promise<string[]> {
  return (await registry.list('datasets/')).keys.map((k) => k.key);
}

const JSONL =
  '{"text": "a fine film", "label": "positive"}\n{"text": "a dull film", "label": "negative"}\n{"text": "great fun", "label": "positive"}\n';

test('a JSONL upload is checked and stored content-addressed, and the URI reads back the same bytes', async () => {
  const res = await upload('reviews.jsonl', JSONL);
  assert.equal(res.status, 201);
  const body = (await res.json()) as {
    datasetUri: string;
    name: string;
    bytes: number;
    sha256: string;
    rows: number;
    format: string;
    labels: Record<string, number>;
  };
  const sha = createHash('sha256').update(JSONL).digest('hex');
  assert.deepEqual(body, {
    object: 'dataset',
    datasetUri: `s3://registry/datasets/${sha.slice(0, 16)}/reviews.jsonl`,
    name: 'reviews.jsonl',
    bytes: Buffer.byteLength(JSONL),
    sha256: sha,
    rows: 3,
    format: 'jsonl',
    labels: { positive: 2, negative: 1 },
  });
  const key = body.datasetUri.slice('s3://registry/'.length);
  const got = await registry.list(key);
  assert.equal(got.keys[0].size, Buffer.byteLength(JSONL));
  // The same bytes again: the same URI, no error (content-addressed, immutable).
  const again = await upload('reviews.jsonl', JSONL);
  assert.equal(again.status, 201);
  assert.equal(((await again.json()) as { datasetUri: string }).datasetUri, body.datasetUri);
});

test('CSV, TSV and gzip uploads are read by their extension', async () => {
  const csv = await upload('r.csv', 'text,label\n"one, two",1\nthree,0\n', 'text/csv');
  assert.equal(csv.status, 201);
  assert.deepEqual(((await csv.json()) as { labels: object }).labels, { '1': 1, '0': 1 });
  const tsv = await upload('r.tsv', 'sentence\tlabel\nx\t1\n', 'text/tab-separated-values');
  assert.equal(tsv.status, 400, 'a TSV without a "text" column is refused');
  assert.match(((await tsv.json()) as Problem).detail, /no column "text"/);
  const gz = await upload('r.jsonl.gz', gzipSync(JSONL), 'application/gzip');
  assert.equal(gz.status, 201);
  assert.equal(((await gz.json()) as { rows: number }).rows, 3);
});

test("the CLI's column options apply to the check: textColumn, textPairColumn, labelColumn as query parameters", async () => {
  const csv = 'sentence,hypothesis,sentiment\na fine film,it is good,positive\na dull film,it is bad,negative\n';
  const before = await storedDatasets();
  // Without them, the default columns are looked for, and the refusal names the columns there are.
  const refused = await upload('columns.csv', csv, 'text/csv');
  assert.equal(refused.status, 400);
  assert.match(((await refused.json()) as Problem).detail, /no column "text".*"sentence", "hypothesis", "sentiment"/);
  assert.deepEqual(await storedDatasets(), before);
  const q = 'textColumn=sentence&textPairColumn=hypothesis&labelColumn=sentiment';
  const res = await app.request(`/datasets?name=columns.csv&${q}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/csv' },
    body: csv,
  });
  assert.equal(res.status, 201, await res.clone().text());
  const body = (await res.json()) as { rows: number; labels: Record<string, number> };
  assert.equal(body.rows, 2);
  assert.deepEqual(body.labels, { positive: 1, negative: 1 });
  // A pair column that is not there is named too.
  const missing = await app.request('/datasets?name=columns.csv&textColumn=sentence&labelColumn=sentiment&textPairColumn=premise', {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/csv' },
    body: csv,
  });
  assert.equal(missing.status, 400);
  assert.match(((await missing.json()) as Problem).detail, /premise/);
});

test('bad datasets are refused with the line and field, and nothing is stored', async () => {
  const before = await storedDatasets();
  const cases: [string, string, RegExp][] = [
    ['bad.jsonl', '{"text": "ok", "label": 1}\n{"text": \n', /bad\.jsonl:2: malformed JSON/],
    ['nolabel.jsonl', '{"text": "ok", "label": 1}\n{"text": "no label"}\n', /nolabel\.jsonl:2: missing field "label"/],
    ['notext.jsonl', '{"label": 1}\n', /notext\.jsonl:1: missing field "text"/],
    ['empty-text.jsonl', '{"text": "  ", "label": 1}\n', /empty-text\.jsonl:1: field "text" is empty/],
  ];
  for (const [name, body, detail] of cases) {
    const res = await upload(name, body);
    assert.equal(res.status, 400, name);
    assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
    const p = (await res.json()) as Problem;
    assert.match(p.detail, detail, name);
    assert.equal(p['invalid-params'][0].name, '(body)');
    assert.doesNotMatch(p.detail, /dataset-[A-Za-z0-9]{6}/, 'no temporary path leaks');
  }
  assert.deepEqual(await storedDatasets(), before);
});

test('names, content types, sizes and empty bodies are checked before reading', async () => {
  const p = async (res: Response) => ({ status: res.status, body: (await res.json()) as Problem });
  let r = await p(await upload(null, JSONL));
  assert.equal(r.status, 400);
  assert.equal(r.body['invalid-params'][0].name, 'name');
  for (const bad of ['../etc/passwd.jsonl', 'a/b.jsonl', 'x.exe', '.hidden.jsonl', 'a..jsonl']) {
    r = await p(await upload(bad, JSONL));
    assert.equal(r.status, 400, bad);
    assert.equal(r.body['invalid-params'][0].name, 'name', bad);
  }
  r = await p(await upload('r.jsonl', JSONL, 'image/png'));
  assert.equal(r.status, 415);
  r = await p(await upload('r.jsonl', ''));
  assert.equal(r.status, 400);
  r = await p(await upload('big.jsonl', `{"text": "${'x'.repeat(5000)}", "label": 1}\n`));
  assert.equal(r.status, 413);
  // A small gzip body that inflates far past the limit (8x the body limit here: 32 KiB) is refused unread.
  const bomb = gzipSync('{"text": "a", "label": 1}\n'.repeat(20_000));
  assert.ok(bomb.length < 4096);
  r = await p(await upload('bomb.jsonl.gz', bomb, 'application/gzip'));
  assert.equal(r.status, 413);
  assert.match(r.body.detail, /decompresses to more than 32768 bytes/);
  r = await p(await upload('broken.jsonl.gz', Buffer.from([0x1f, 0x8b, 1, 2, 3]), 'application/gzip'));
  assert.equal(r.status, 400);
  const unauth = await app.request('/datasets?name=r.jsonl', {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: JSONL,
  });
  assert.equal(unauth.status, 401);
});

test('JSON {name, bytes} answers a presigned PUT that uploads to the registry', async () => {
  const data = Buffer.from(JSONL);
  const res = await app.request('/datasets', {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'large.jsonl', bytes: data.length }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const body = (await res.json()) as { datasetUri: string; uploadUrl: string; method: string; expiresAt: string };
  assert.match(body.datasetUri, /^s3:\/\/registry\/datasets\/uploads\/\d{8}T\d{9}Z-[0-9a-f]{16}\/large\.jsonl$/);
  assert.equal(body.method, 'PUT');
  assert.ok(Date.parse(body.expiresAt) > Date.now());
  const put = await fetch(body.uploadUrl, { method: 'PUT', body: data });
  assert.equal(put.status, 200);
  const key = body.datasetUri.slice('s3://registry/'.length);
  assert.equal((await registry.list(key)).keys[0]?.size, data.length);

  const bad = await app.request('/datasets', {
    method: 'POST',
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'x.jsonl', bytes: 0 }),
  });
  assert.equal(bad.status, 400);
  assert.equal(((await bad.json()) as Problem)['invalid-params'][0].name, 'bytes');
});

test('the route is in /openapi.json with both body kinds', async () => {
  const doc = (await (await app.request('/openapi.json', { headers: { authorization: `Bearer ${KEY}` } })).json()) as {
    paths: Record<string, { post?: { requestBody: { content: Record<string, unknown> } } }>;
  };
  const content = doc.paths['/datasets']?.post?.requestBody.content ?? {};
  assert.ok('application/json' in content);
  assert.ok('application/x-ndjson' in content);
  assert.ok('text/csv' in content);
});

test('labels named like Object.prototype members come back counted; one label is refused at upload', async () => {
  const body = `${['constructor', 'toString', '__proto__', '__proto__'].map((label) => JSON.stringify({ text: 'x', label })).join('\n')}\n`;
  const res = await upload('proto.jsonl', body);
  assert.equal(res.status, 201, await res.clone().text());
  const text = await res.text();
  assert.match(text, /"labels":\{"constructor":1,"toString":1,"__proto__":2\}/);
  const one = await upload('one.jsonl', '{"text":"a","label":"pos"}\n{"text":"b","label":"pos"}\n');
  assert.equal(one.status, 400);
  assert.match(((await one.json()) as Problem).detail, /one\.jsonl: every row has the label "pos"; a classifier needs at least two labels/);
});

test('more rows than the row cap is 413, and the check is bounded: beyond its slots, 429 with Retry-After', async () => {
  const capped = datasetsApp({ maxDatasetBytes: 1 << 20, datasetChecks: { concurrency: 1, maxRows: 100 } });
  const rows = (n: number) => `${Array.from({ length: n }, (_, i) => JSON.stringify({ text: 't', label: i % 2 })).join('\n')}\n`;
  const post = (body: string | ReadableStream<Uint8Array>) =>
    Promise.resolve(
      capped.request('/datasets?name=r.jsonl', {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/x-ndjson' },
        body,
        duplex: 'half',
      } as RequestInit),
    );
  assert.equal((await post(rows(100))).status, 201);
  const over = await post(rows(101));
  assert.equal(over.status, 413);
  assert.match(((await over.json()) as Problem).detail, /r\.jsonl has more than 100 rows/);

  // The one slot is held by an upload whose body has not finished arriving. The slot is taken before the body is
  // read, so once the check asks for the body's first bytes (highWaterMark 0: nothing is pulled before a read), it
  // holds the slot: the test waits for that event, not for a time window.
  let reading!: () => void;
  const bodyRead = new Promise<void>((resolve) => {
    reading = resolve;
  });
  let finish!: () => void;
  const finished = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let sent = false;
  const slow = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        if (!sent) {
          sent = true;
          controller.enqueue(new TextEncoder().encode(rows(10)));
          reading();
          return;
        }
        await finished;
        controller.close();
      },
    },
    { highWaterMark: 0 },
  );
  const first = post(slow);
  await bodyRead;
  const busy = await post(rows(4));
  assert.equal(busy.status, 429);
  assert.equal(busy.headers.get('retry-after'), '5');
  assert.match(((await busy.json()) as Problem).detail, /1 dataset uploads are being checked/);
  finish();
  assert.equal((await first).status, 201);
  assert.equal((await post(rows(4))).status, 201, 'the slot is free again');
});

test('labels past the limits are refused with 422 naming the line and the label field; the limits are set per deployment', async () => {
  const big = datasetsApp({ maxDatasetBytes: 8 * 1024 * 1024 });
  const post = (a: OpenAPIHono, name: string, body: string) =>
    Promise.resolve(
      a.request(`/datasets?name=${name}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'text/csv' },
        body,
      }),
    );
  // The review's recipes: a CSV of 200,000 distinct labels, and a label of 500,000 characters.
  const many = `text,label\n${Array.from({ length: 200_000 }, (_, i) => `t,class-${i}`).join('\n')}\n`;
  const before = await storedDatasets();
  let res = await post(big, 'many.csv', many);
  assert.equal(res.status, 422);
  assert.match(res.headers.get('content-type') ?? '', /application\/problem\+json/);
  let problem = (await res.json()) as Problem;
  assert.equal(problem.detail, 'many.csv:1002: more than 1000 distinct labels, the limit (ADAPTER_STORE_MAX_LABELS)');
  assert.deepEqual(problem['invalid-params'], [{ name: 'label', reason: problem.detail }]);
  res = await post(big, 'long.csv', `text,label\na,ok\nb,${'x'.repeat(500_000)}\n`);
  assert.equal(res.status, 422);
  problem = (await res.json()) as Problem;
  assert.match(problem.detail, /^long\.csv:3: label of 500000 characters .*over the limit of 256 \(ADAPTER_STORE_MAX_LABEL_CHARS\)$/);
  assert.deepEqual(await storedDatasets(), before, 'nothing is stored');
  const tight = datasetsApp({ labelLimits: { maxLabels: 2, maxLabelChars: 256 } });
  res = await post(tight, 'three.csv', 'text,label\na,x\nb,y\nc,z\n');
  assert.equal(res.status, 422);
  assert.equal(((await res.json()) as Problem).detail, 'three.csv:4: more than 2 distinct labels, the limit (ADAPTER_STORE_MAX_LABELS)');
});

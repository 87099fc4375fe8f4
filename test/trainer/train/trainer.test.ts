/**
 * The training loop in-process: typed events, the onCheckpoint and onStep hooks, and a run stopped
 * mid-way (by the step hook, as a reclaimed host would stop it) that resumes to exactly the result of
 * an uninterrupted run.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CHECKPOINT_POINTER } from '../../../shared/checkpoint-layout.ts';
import type { TrainerEvent } from '../../../shared/trainer-events.ts';
import { readAdapterDir } from '../../../trainer/model-files/adapter-dir.ts';
import { trainDefaults } from '../../../trainer/train/defaults.ts';
import { CHECKPOINT_STATE } from '../../../trainer/train/resume-state.ts';
import { type TrainOptions, train } from '../../../trainer/train/trainer.ts';
import { TOY_JSONL, writeTinyBert } from '../../support/tiny-bert.ts';

const work = mkdtempSync(join(tmpdir(), 'trainer-'));
const base = join(work, 'base');
const data = join(work, 'toy.jsonl');
before(() => {
  writeTinyBert(base);
  writeFileSync(data, TOY_JSONL);
});
after(() => rmSync(work, { recursive: true, force: true }));

function options(out: string, over: Partial<TrainOptions> = {}): TrainOptions {
  return {
    ...trainDefaults,
    base,
    data,
    out,
    task: 'toy',
    lr: 5e-3,
    initStd: 1e-2,
    epochs: 3,
    batchSize: 8,
    dropout: 0,
    seeds: [5],
    checkpointEvery: 4,
    validationSplit: 0.25,
    device: 'cpu',
    threads: 1,
    log: () => {},
    ...over,
  };
}

class Stopped extends Error {}

test('events arrive typed and in order; onCheckpoint sees each state as written, before training goes on', async () => {
  const events: TrainerEvent[] = [];
  const seen: { step: number; stateStep: number }[] = [];
  await train(
    options(join(work, 'events'), {
      log: (e) => events.push(e),
      onCheckpoint: ({ dir, folder, step }) =>
        seen.push({ step, stateStep: JSON.parse(readFileSync(join(dir, folder, CHECKPOINT_STATE), 'utf8')).position.step }),
    }),
  );
  const kinds = events.map((e) => e.event);
  assert.equal(kinds[0], 'start');
  assert.equal(kinds.at(-1), 'done');
  const start = events[0];
  assert.ok(start.event === 'start' && start.totalSteps === 12 && start.examples === 30, JSON.stringify(start));
  const steps = events.flatMap((e) => (e.event === 'step' ? [e.step] : []));
  assert.deepEqual(
    steps,
    Array.from({ length: 12 }, (_, i) => i + 1),
  );
  const validations = events.flatMap((e) => (e.event === 'validation' ? [e] : []));
  assert.equal(validations.length, 3, 'one per epoch');
  for (const v of validations) assert.equal(v.score, v.accuracy, 'the selection metric (accuracy by default) and its value');
  assert.deepEqual(
    seen,
    [4, 8].map((s) => ({ step: s, stateStep: s })),
    'every 4 steps, not at the last one',
  );
  assert.deepEqual(
    events.flatMap((e) => (e.event === 'checkpoint' ? [e.step] : [])),
    [4, 8],
  );
});

test('a run stopped after step 10 resumes from its step-8 checkpoint and ends exactly where an uninterrupted run ends', async () => {
  const straight = join(work, 'straight');
  await train(options(straight));

  const resumed = join(work, 'resumed');
  const stopAt10 = (step: number) => {
    if (step === 10) throw new Stopped();
  };
  await assert.rejects(train(options(resumed, { onStep: stopAt10 })), Stopped);
  assert.ok(!existsSync(resumed), 'a stopped run leaves no adapter');
  // One checkpoint folder per save, the older deleted once the pointer names the newer.
  assert.deepEqual(readdirSync(`${resumed}.checkpoint`).sort(), ['8', CHECKPOINT_POINTER]);
  const events: TrainerEvent[] = [];
  await train(options(resumed, { resume: true, log: (e) => events.push(e) }));
  const resume = events.find((e) => e.event === 'resume');
  assert.ok(resume?.event === 'resume' && resume.step === 8, JSON.stringify(resume));
  assert.deepEqual(
    events.flatMap((e) => (e.event === 'step' ? [e.step] : [])),
    [9, 10, 11, 12],
  );

  const [a, b] = [readAdapterDir(straight), readAdapterDir(resumed)];
  for (const [name, t] of a.tensors) assert.deepEqual(b.tensors.get(name)!.data, t.data, name);
  const [ma, mb] = [straight, resumed].map((d) => JSON.parse(readFileSync(join(d, 'metrics.json'), 'utf8')));
  assert.deepEqual(
    mb.steps.map((s: { loss: number }) => s.loss),
    ma.steps.map((s: { loss: number }) => s.loss),
  );

  // A torn checkpoint (state from one write, tensors from another) is not resumed: the run starts over
  // and, being deterministic, still ends exactly where the uninterrupted run ends.
  const torn = join(work, 'torn');
  await assert.rejects(train(options(torn, { onStep: stopAt10 })), Stopped);
  const statePath = join(`${torn}.checkpoint`, '8', CHECKPOINT_STATE);
  const state = JSON.parse(readFileSync(statePath, 'utf8')) as { tensorsSha256: string };
  writeFileSync(statePath, JSON.stringify({ ...state, tensorsSha256: '0'.repeat(64) }));
  const restarted: TrainerEvent[] = [];
  await train(options(torn, { resume: true, log: (e) => restarted.push(e) }));
  assert.ok(restarted.some((e) => e.event === 'checkpoint-ignored'));
  assert.ok(!restarted.some((e) => e.event === 'resume'));
  const c = readAdapterDir(torn);
  for (const [name, t] of a.tensors) assert.deepEqual(c.tensors.get(name)!.data, t.data, name);
});

// A job's files live in a temporary folder that is new on every start: the fingerprint names the
// contents (rows, base weights) and the spec, so moved files still resume, and other rows never do.
test('a resume follows the contents, not the paths: moved base, data and checkpoint resume; other rows are refused by name', async () => {
  const first = join(work, 'moved-a');
  await assert.rejects(
    train(
      options(join(first, 'out'), {
        checkpointDir: join(first, 'checkpoint'),
        onStep: (step) => {
          if (step === 10) throw new Stopped();
        },
      }),
    ),
    Stopped,
  );
  const second = join(work, 'moved-b');
  cpSync(base, join(second, 'base'), { recursive: true });
  writeFileSync(join(second, 'toy.jsonl'), TOY_JSONL);
  renameSync(join(first, 'checkpoint'), join(second, 'checkpoint'));
  const moved = (over: Partial<TrainOptions>) =>
    options(join(second, 'out'), {
      base: join(second, 'base'),
      data: join(second, 'toy.jsonl'),
      checkpointDir: join(second, 'checkpoint'),
      resume: true,
      ...over,
    });
  const events: TrainerEvent[] = [];
  await train(moved({ log: (e) => events.push(e) }));
  const resume = events.find((e) => e.event === 'resume');
  assert.ok(resume?.event === 'resume' && resume.step === 8, JSON.stringify(resume));

  const rows = TOY_JSONL.split('\n').filter(Boolean);
  writeFileSync(join(second, 'other.jsonl'), `${[rows[1], rows[0], ...rows.slice(2)].join('\n')}\n`);
  await assert.rejects(
    train(moved({ data: join(second, 'other.jsonl'), out: join(second, 'out-other'), checkpointEvery: 100 })),
    /other data or options \((dataSha256|validationSha256)[a-zA-Z0-9, ]* differ\)/,
  );
  await assert.rejects(train(moved({ lr: 1e-3, out: join(second, 'out-lr') })), /other data or options \(spec\.lr differ\)/);
});

test('early stopping ends a seed once the patience runs out, and says so once', async () => {
  const events: TrainerEvent[] = [];
  const { metrics } = await train(
    options(join(work, 'early'), {
      lr: 1e-12,
      epochs: 20,
      evalSteps: 1,
      earlyStoppingPatience: 2,
      metric: 'loss',
      checkpointEvery: 0,
      log: (e) => events.push(e),
    }),
  );
  assert.equal(metrics.seeds[0].stoppedEarly, true);
  const stops = events.filter((e) => e.event === 'early-stop');
  assert.equal(stops.length, 1);
  const validations = events.filter((e) => e.event === 'validation');
  assert.deepEqual(
    validations.slice(-2).map((v) => v.event === 'validation' && v.improved),
    [false, false],
  );
  assert.equal(metrics.steps.length, validations.length, 'evaluated after every step, none twice');
});

test('a job evaluates at most MAX_VALIDATION_ROWS rows: the review recipe (a 200,000-row validation file) is refused before training', async () => {
  const big = join(work, 'validation-200k.jsonl');
  const row = (i: number) => JSON.stringify({ input_ids: [2, 8 + (i % 2) * 20, 9], label: i % 2 ? 'pos' : 'neg' });
  writeFileSync(big, `${Array.from({ length: 200_000 }, (_, i) => row(i)).join('\n')}\n`);
  const steps: number[] = [];
  await assert.rejects(
    train(
      options(join(work, 'out-big-validation'), {
        validation: big,
        validationSplit: undefined,
        log: (e) => (e.event === 'step' ? steps.push(e.step) : undefined),
      }),
    ),
    (err: Error) => {
      assert.equal(
        err.message,
        `${big}:10001: the validation data has more than 10000 rows, the most a job evaluates (every evaluation reads them all, and the job budget counts them); use a sample`,
      );
      return true;
    },
  );
  assert.deepEqual(steps, [], 'refused before any step');
  assert.equal(trainDefaults.maxValidationRows, 10_000);
});

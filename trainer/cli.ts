/**
 * The trainer's command line: `npm run --silent trainer -- <command> [options]`.
 * Each command validates its options, runs in this process (never on a server's event loop), and
 * exits non-zero with one precise line on stderr when the input is bad.
 */

import { cpSync, existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { LOCAL_REGISTRY_FOLDER, localRegistryUri, localStoreDir, Registry, RegistryError } from '../shared/registry/index.ts';
import { type DatasetFormat, DEFAULT_FIELDS, readDataset } from '../shared/training-data/index.ts';
import {
  BASE_WEIGHT_DTYPES,
  DATASET_FORMATS,
  DEVICES,
  EXPORT_FORMATS,
  LR_SCHEDULES,
  NONLINEARITIES,
  OPTIMIZERS,
  SELECTION_METRICS,
  TRAIN_MODES,
} from '../shared/vocabulary.ts';
import { addAblateCommand } from './ablate/command.ts';
import { logger, nonNegative, nonNegativeInt, number, positiveInt, ratio, seedList, trueOrFalse } from './cli-args.ts';
import {
  downloadFlags,
  evalFlags,
  exportFlags,
  initBaseFlags,
  predictFlags,
  runJobFlags,
  trainFlags,
  trainOptionsFromFlags,
  uploadBaseFlags,
} from './cli-flags.ts';
import type { JobOutcome, StopReason } from './jobs/job-outcome.ts';
import { ARRAY_INDEX_ENV, arrayIndexFromEnv, JOB_CHECKPOINT_EVERY, runJob } from './jobs/run-job.ts';
import { familyOf } from './model/families/registry.ts';
import { parameterSpecs, specFromAdapterConfig } from './model/params.ts';
import { initialParameters } from './model/weights.ts';
import { assertWritableOutput, readAdapterDir } from './model-files/adapter-dir.ts';
import { loadBaseModel } from './model-files/base-model.ts';
import { exportAdapter } from './model-files/export.ts';
import { writeRandomBert } from './model-files/random-bert.ts';
import { describeWritten, fetchAdapter, fetchBase, withTempDir } from './model-files/registry-source.ts';
import { addPretrainCommand } from './pretrain/command.ts';
import { addDoctorCommand } from './sessions/doctor-command.ts';
import { ModelSessions } from './sessions/model-sessions.ts';
import type { Device } from './sessions/session.ts';
import { addSweepCommand } from './sweep/command.ts';
import {
  hasTokenizerFiles,
  loadBaseTokenizer,
  loadFamilyTextEncoder,
  missingTokenizerMessage,
  tokenizerFileNames,
} from './tokenizer/base-tokenizer.ts';
import { collate, makeBatches } from './train/batching.ts';
import { trainDefaults } from './train/defaults.ts';
import { resolveLabels } from './train/labels.ts';
import { softmaxRow } from './train/metrics.ts';
import { jsonLines } from './train/progress.ts';
import { evaluate, train } from './train/trainer.ts';
import { argmax } from './util/argmax.ts';
import { Rng } from './util/random.ts';

/** The options that say how to read a dataset, for the commands that read one. */
function withDataOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--format <format>', 'data format (default: from the file name; gzip is detected)').choices(DATASET_FORMATS))
    .option('--text-column <name>', `column / field holding the text (default: "${DEFAULT_FIELDS.text}")`)
    .option('--text-pair-column <name>', `column / field holding the second text of a pair, if any (default: "${DEFAULT_FIELDS.textPair}")`)
    .option('--label-column <name>', `column / field holding the label (default: "${DEFAULT_FIELDS.label}")`);
}

/** What running an adapter needs: its base, the adapter, batch size and device. */
function withInferenceOptions(cmd: Command): Command {
  return withDeviceOptions(
    cmd
      .requiredOption('--base <dir>', 'base model directory the adapter was trained on')
      .requiredOption('--adapter <dir>', 'adapter directory (adapter.safetensors + adapter_config.json)')
      .option('--batch-size <n>', 'rows per forward pass', positiveInt('--batch-size'), 32),
  );
}

function withDeviceOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--device <device>', 'execution provider').choices(DEVICES).default('cpu').env('TRAINER_DEVICE'))
    .option('--threads <n>', 'CPU threads for onnxruntime (default: all cores)', positiveInt('--threads'));
}

interface DataFlags {
  format?: DatasetFormat;
  textColumn?: string;
  textPairColumn?: string;
  labelColumn?: string;
}

/** An adapter ready for inference on its base, with the rows of --data read against the base's limits. */
async function openAdapter(
  o: { base: string; adapter: string; data: string; device: Device; threads?: number } & DataFlags,
  requireLabels: boolean,
) {
  const base = loadBaseModel(o.base);
  const adapter = readAdapterDir(o.adapter, base);
  if (adapter.config.labels.length === 0)
    throw new Error(`--adapter ${o.adapter}: has no head (head_config.json); train one with train --init-adapter`);
  if (adapter.config.base.weightsSha256 !== base.weightsSha256) {
    throw new Error(
      `--adapter ${o.adapter} was trained on a base with weights sha256 ${adapter.config.base.weightsSha256}, but --base ${o.base} has ${base.weightsSha256}`,
    );
  }
  const spec = specFromAdapterConfig(adapter.config);
  const values = initialParameters(spec, parameterSpecs(spec), base, new Rng(0), { task: adapter.config.task, tensors: adapter.tensors });
  const cfg = base.config;
  const family = familyOf(cfg);
  const tokenizer = await loadBaseTokenizer(o.base, adapter.config.maxSeqLen, family);
  const { rows } = await readDataset(o.data, {
    vocabSize: cfg.vocab_size,
    maxPositions: family.maxSequenceLength(cfg),
    typeVocabSize: cfg.type_vocab_size,
    requireLabels,
    tokenizer,
    format: o.format,
    textColumn: o.textColumn,
    textPairColumn: o.textPairColumn,
    labelColumn: o.labelColumn,
    labels: requireLabels ? adapter.config.labels : undefined,
  });
  const sessions = await ModelSessions.create(spec, values, { device: o.device, dropout: 0, seed: 0, threads: o.threads }, false);
  return { sessions, labels: adapter.config.labels, rows };
}

/** The registry option, as every command that opens one words it. */
const REGISTRY_HELP =
  'the registry: s3://bucket[/prefix] (endpoint and credentials from the AWS environment) or file:///directory (a local store, as npm start keeps)';
const REGISTRY_HELP_DEFAULT = `${REGISTRY_HELP}; default: $ADAPTER_STORE_REGISTRY, else npm start's local store ($ADAPTER_STORE_DIR or ./.adapter-store)`;

/**
 * The registry a command reads when --registry is not given: $ADAPTER_STORE_REGISTRY, else the local
 * store of `npm start` when there is one ($ADAPTER_STORE_DIR or ./.adapter-store), so that right after a
 * local fine-tune `trainer export --task T` needs no URI at all.
 */
function registryFor(given: string | undefined): Registry {
  const store = localStoreDir();
  const local = existsSync(join(store, LOCAL_REGISTRY_FOLDER)) ? localRegistryUri(store) : undefined;
  const uri = given ?? (process.env.ADAPTER_STORE_REGISTRY || local);
  if (uri === undefined)
    throw new InvalidArgumentError(
      `--task needs a registry: give --registry <uri> or set ADAPTER_STORE_REGISTRY (without either, npm start's local store is used, and there is none at ${store})`,
    );
  return Registry.fromUri(uri);
}

/** Where `export` takes its adapter from: a directory, or a task of a registry (exactly one). */
function adapterSource(o: {
  adapter?: string;
  registry?: string;
  task?: string;
  version?: string;
}): { kind: 'dir'; adapter: string } | { kind: 'registry'; registry: Registry; task: string } {
  if (o.adapter !== undefined && (o.registry !== undefined || o.task !== undefined || o.version !== undefined))
    throw new InvalidArgumentError('give --adapter <dir>, or --task <name> (of --registry <uri>), not both');
  if (o.adapter !== undefined) return { kind: 'dir', adapter: o.adapter };
  if (o.task === undefined)
    throw new InvalidArgumentError(
      o.registry === undefined
        ? 'give --adapter <dir>, or --task <name> to take it from a registry (--registry <uri>)'
        : '--registry needs --task <name> (the task whose adapter to export)',
    );
  return { kind: 'registry', registry: registryFor(o.registry), task: o.task };
}

/** Moves a finished directory into place (a copy: the staging area may be on another file system). */
function moveDir(from: string, to: string): void {
  cpSync(from, to, { recursive: true });
  rmSync(from, { recursive: true, force: true });
}

const program = new Command('trainer')
  .description('Train and run Houlsby bottleneck adapters on a frozen BERT (ONNX Runtime backed autodiff).')
  .configureHelp({ showGlobalOptions: true });

withDeviceOptions(withDataOptions(program.command('train')))
  .description('train an adapter (or a head / a full fine-tune) on a JSONL dataset and write an adapter directory')
  .requiredOption('--base <dir>', 'base model directory (Hugging Face layout: config.json, model.safetensors)')
  .requiredOption(
    '--data <uri>',
    'training data: a path, file:// or s3:// URI of JSONL, CSV or TSV; JSONL rows {"text": "...", "text_pair"?: "...", "label": 0 | "name"} or pre-tokenized {"input_ids": [...], "token_type_ids"?: [...], "label": ...}',
  )
  .requiredOption('--out <dir>', 'output adapter directory (must not exist or be empty)')
  .option('--validation <uri>', 'validation data (same formats), evaluated at each epoch end and every --eval-steps')
  .option('--task <name>', 'task name, also the adapter name inside parameter keys (default: --init-adapter task or the data file name)')
  .option('--labels <names>', 'label names in class order, comma-separated (default: taken from the data)')
  .addOption(new Option('--mode <mode>', 'what is trained').choices(TRAIN_MODES).default(trainDefaults.mode))
  .option(
    '--max-seq-len <n>',
    "text rows are tokenized to at most this many tokens (default: 128, or the base's max_position_embeddings when smaller)",
    positiveInt('--max-seq-len'),
  )
  .option('--bottleneck <m>', 'adapter bottleneck width', positiveInt('--bottleneck'), trainDefaults.bottleneck)
  .addOption(new Option('--nonlinearity <f>', 'adapter non-linearity').choices(NONLINEARITIES).default(trainDefaults.nonlinearity))
  .option(
    '--init-std <std>',
    'std of the truncated normal init of adapter weights',
    number('--init-std', (v) => v > 0 && v <= 1, 'in (0, 1]'),
    trainDefaults.initStd,
  )
  .option('--adapter-layers <set>', 'layers that get adapters, e.g. 0-11 or 6-11,3 (default: all)')
  .option(
    '--train-layernorms <bool>',
    'adapter mode: train the LayerNorms too (true), or freeze them (false: what the Python adapters library trains)',
    trueOrFalse('--train-layernorms'),
    true,
  )
  .addOption(new Option('--optimizer <name>', 'optimizer').choices(OPTIMIZERS).default(trainDefaults.optimizer))
  .option(
    '--lr <rate>',
    'peak learning rate',
    number('--lr', (v) => v > 0, 'a positive number'),
    trainDefaults.lr,
  )
  .option(
    '--weight-decay <wd>',
    'decoupled weight decay (not on biases and LayerNorms)',
    nonNegative('--weight-decay'),
    trainDefaults.weightDecay,
  )
  .option('--batch-size <n>', 'examples per step', positiveInt('--batch-size'), trainDefaults.batchSize)
  .option('--epochs <n>', 'passes over the training data', positiveInt('--epochs'), trainDefaults.epochs)
  .option('--max-steps <n>', 'stop after this many steps (default: epochs x batches)', positiveInt('--max-steps'))
  .addOption(new Option('--schedule <kind>', 'learning-rate schedule after warm-up').choices(LR_SCHEDULES).default(trainDefaults.schedule))
  .option('--warmup-ratio <r>', 'fraction of steps with linear warm-up', ratio('--warmup-ratio'), trainDefaults.warmupRatio)
  .option('--max-grad-norm <n>', 'clip the global gradient norm (0 = off)', nonNegative('--max-grad-norm'), trainDefaults.maxGradNorm)
  .option('--dropout <p>', 'dropout on hidden states and attention probabilities (0 = none)', ratio('--dropout'), trainDefaults.dropout)
  .option(
    '--seed <n>',
    'random seed (init, shuffling, dropout)',
    number('--seed', Number.isSafeInteger, 'an integer'),
    trainDefaults.seeds[0],
  )
  .option('--seeds <list>', 'several seeds, e.g. 1,2,3: one run each, the best on validation is written (overrides --seed)', seedList)
  .option('--max-bad-rows <n>', 'skip and count up to N bad rows instead of failing on the first', nonNegativeInt('--max-bad-rows'), 0)
  .option(
    '--validation-split <fraction>',
    'hold out this fraction of the training data (seeded) when no --validation is given',
    ratio('--validation-split'),
  )
  .option(
    '--eval-steps <n>',
    'also evaluate every N steps (0: at epoch ends only)',
    nonNegativeInt('--eval-steps'),
    trainDefaults.evalSteps,
  )
  .addOption(
    new Option('--metric <name>', 'validation metric that selects the best checkpoint and seed')
      .choices(SELECTION_METRICS)
      .default(trainDefaults.metric),
  )
  .option(
    '--early-stopping-patience <n>',
    'stop after N evaluations without improvement (0: off)',
    nonNegativeInt('--early-stopping-patience'),
    trainDefaults.earlyStoppingPatience,
  )
  .option('--no-shuffle', 'keep the data order')
  .option('--no-bucketing', 'batch rows in shuffled order instead of grouping similar lengths')
  .option('--pad-to <n>', 'pad every batch to N tokens (fixed padding; default: each batch to its longest row)', positiveInt('--pad-to'))
  .option(
    '--checkpoint-every <n>',
    'save a resumable checkpoint every N steps (0: off)',
    nonNegativeInt('--checkpoint-every'),
    trainDefaults.checkpointEvery,
  )
  .option('--checkpoint-dir <dir>', 'where checkpoints go (default: <out>.checkpoint)')
  .option('--resume', 'continue from the checkpoint in --checkpoint-dir if there is one')
  .option('--init-adapter <dir>', 'start from an existing adapter directory (warm start)')
  .option('--quiet', 'no progress output')
  .action(async (raw) => {
    const flags = trainFlags.parse(raw);
    await train(trainOptionsFromFlags(flags, logger(flags.quiet === true)));
  });

withInferenceOptions(withDataOptions(program.command('predict')))
  .description('run an adapter over JSONL rows and write one prediction per line')
  .requiredOption('--data <uri>', 'rows to predict: path, file:// or s3:// URI of JSONL, CSV or TSV (labels ignored)')
  .requiredOption('--out <file>', 'output JSONL: {"logits": [...], "probs": [...], "label": "<name>"} per row')
  .action(async (raw) => {
    const o = predictFlags.parse(raw);
    const { sessions, labels, rows } = await openAdapter(o, false);
    const lines: string[] = [];
    for (const idx of makeBatches(rows, o.batchSize, { shuffle: false })) {
      const batch = collate(idx.map((i) => rows[i]));
      const logits = await sessions.logits(batch);
      for (let r = 0; r < batch.batchSize; r++) {
        const row = Array.from(logits.subarray(r * labels.length, (r + 1) * labels.length));
        const probs = softmaxRow(row);
        lines.push(JSON.stringify({ logits: row, probs, label: labels[argmax(probs)] }));
      }
    }
    writeFileSync(o.out, `${lines.join('\n')}\n`);
    await sessions.release();
  });

withInferenceOptions(withDataOptions(program.command('eval')))
  .description('evaluate an adapter on labelled JSONL rows: loss, accuracy, macro-F1, Matthews correlation')
  .requiredOption('--data <uri>', 'labelled rows: path, file:// or s3:// URI of JSONL, CSV or TSV')
  .option('--out <file>', 'also write the metrics as JSON here')
  .action(async (raw) => {
    const o = evalFlags.parse(raw);
    const { sessions, labels, rows } = await openAdapter(o, true);
    const { labelIndex } = resolveLabels(rows, labels, o.data);
    const metrics = { data: o.data, adapter: o.adapter, ...(await evaluate(sessions, rows, labelIndex, labels.length, o.batchSize)) };
    await sessions.release();
    const text = `${JSON.stringify(metrics, null, 2)}\n`;
    process.stdout.write(text);
    if (o.out) writeFileSync(o.out, text);
  });

withDeviceOptions(program.command('run-job'))
  .description('run a fine-tune job from the registry: read jobs/<id>/spec.json, train, report status.json, publish the adapter')
  .requiredOption('--registry <uri>', REGISTRY_HELP)
  .requiredOption('--job <id>', 'job id')
  .option('--status-interval <seconds>', 'minimum seconds between status.json updates while training', nonNegative('--status-interval'), 5)
  .option('--stop-when-stdin-closes', 'stop when stdin ends, leaving the job queued to resume (the local server runs jobs so)')
  .option(
    '--point <index>',
    `a sweep: train only this point (default in an AWS Batch array child: ${ARRAY_INDEX_ENV}); without it and --reduce, every point, then the reduce`,
    nonNegativeInt('--point'),
  )
  .option('--reduce', 'a sweep: only publish the best of its trained points (the step after the Batch array job)')
  .addOption(
    new Option('--checkpoint-every <n>', `save a checkpoint every N steps (default ${JOB_CHECKPOINT_EVERY})`)
      .argParser(positiveInt('--checkpoint-every'))
      .env('TRAINER_CHECKPOINT_EVERY'),
  )
  .action(async (raw) => {
    const o = runJobFlags.parse(raw);
    if (o.point !== undefined && o.reduce)
      throw new InvalidArgumentError('--point and --reduce: give one (a point trains, the reduce publishes)');
    const point = o.point ?? arrayIndexFromEnv(process.env);
    const outcome = await withStopSignal(o.stopWhenStdinCloses === true, (signal) =>
      runJob(
        {
          sweepStep: o.reduce ? 'reduce' : point === undefined ? undefined : { point },
          registry: Registry.fromUri(o.registry),
          jobId: o.job,
          device: o.device,
          threads: o.threads,
          statusInterval: o.statusInterval,
          checkpointEvery: o.checkpointEvery,
          log: jsonLines((l) => process.stderr.write(l)),
        },
        signal,
      ),
    );
    if (outcome.kind === 'done') process.stdout.write(`${JSON.stringify(outcome.status)}\n`);
    if (outcome.kind === 'failed') process.stderr.write(`error: ${outcome.error.message}\n`);
    // Done: the process ends on its own, as every command's; otherwise at once, with the outcome's code.
    const code = runJobExitCode(outcome);
    if (code !== 0) process.exit(code);
  });

/** What AWS Batch sets in every job's container: the job's id (a SIGTERM'd attempt may be retried). */
const BATCH_JOB_ID_ENV = 'AWS_BATCH_JOB_ID';

/**
 * Runs `run` with an AbortSignal this process raises: on SIGTERM (Batch's TerminateJob, a Spot reclaim, the
 * local runner's cancel) or SIGINT, and with `stdinCloses`, when stdin ends (the local server that started
 * this run is gone, even killed outright). A second signal kills the process as usual.
 */
async function withStopSignal<T>(stdinCloses: boolean, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const stop = (reason: StopReason) => () => controller.abort(reason);
  const batchAttempt = Boolean(process.env[BATCH_JOB_ID_ENV]);
  const onTerm = stop({ kind: 'signal', signal: 'SIGTERM', batchAttempt });
  const onInt = stop({ kind: 'signal', signal: 'SIGINT', batchAttempt });
  const onParentGone = stop({ kind: 'runner-gone' });
  process.once('SIGTERM', onTerm).once('SIGINT', onInt);
  if (stdinCloses) process.stdin.on('end', onParentGone).on('error', onParentGone).resume();
  try {
    return await run(controller.signal);
  } finally {
    process.off('SIGTERM', onTerm).off('SIGINT', onInt);
    if (stdinCloses) process.stdin.off('end', onParentGone).off('error', onParentGone).pause();
  }
}

/**
 * run-job's exit code: 0 done (a point that failed included: the reduce reports it), 1 failed, and for a
 * stop the signal's 128 + n (143 SIGTERM, 130 SIGINT); 143 too when its server went away (the local runner
 * reads it as "stopped, queued to resume").
 */
function runJobExitCode(outcome: JobOutcome): number {
  if (outcome.kind === 'done') return 0;
  if (outcome.kind === 'failed') return 1;
  return outcome.reason.kind === 'signal' && outcome.reason.signal === 'SIGINT' ? 130 : 143;
}

program
  .command('export')
  .description(
    'export an adapter: onnx (default; model.onnx + tokenizer.json + labels, runs in any onnxruntime) or adapterhub (loads in the Python adapters library)',
  )
  .addOption(new Option('--format <format>', 'onnx or adapterhub').choices(EXPORT_FORMATS).default('onnx'))
  .option('--adapter <dir>', 'adapter directory (ours, or an AdapterHub one together with --base); or give --task')
  .option('--task <name>', 'export the adapter of this task from a registry (see --registry) instead of --adapter')
  .option('--version <id>', 'with --task: the version (default: the newest)')
  .option('--registry <uri>', `with --task: ${REGISTRY_HELP_DEFAULT}`)
  .requiredOption('--out <dir>', 'output directory (must not exist or be empty)')
  .option(
    '--base <dir>',
    "base model directory: required for onnx with --adapter (with --task, the adapter's base is fetched from the registry unless given); optional for adapterhub, checked against the adapter when given",
  )
  .option('--dtype <dtype>', 'onnx: weight storage, f32 (default) or f16 (computed in f32)')
  .option('--quantize <kind>', 'onnx: int8 = dynamic quantization of the frozen linear weights')
  .option('--adapters-as-inputs', 'onnx: adapter, LayerNorm and head tensors as graph inputs (one graph for every adapter of the base)')
  .option(
    '--model-name <name>',
    "adapterhub: the base as Python users name it in from_pretrained(...), e.g. bert-base-uncased (default: the base directory's name)",
  )
  .action(async (raw) => {
    const o = exportFlags.parse(raw);
    const run = (adapter: string, base: string | undefined) =>
      exportAdapter({
        format: o.format,
        adapter,
        out: o.out,
        base,
        modelName: o.modelName,
        dtype: o.dtype,
        quantize: o.quantize,
        adaptersAsInputs: o.adaptersAsInputs,
      });
    const source = adapterSource(o);
    assertWritableOutput(o.out); // before anything is downloaded
    if (source.kind === 'dir') await run(source.adapter, o.base);
    else {
      await withTempDir('trainer-export-', async (tmp) => {
        const adapter = join(tmp, 'adapter');
        const manifest = await fetchAdapter(source.registry, source.task, o.version, adapter);
        process.stderr.write(`exporting ${manifest.task} version ${manifest.version} from ${source.registry.uri}\n`);
        let base = o.base;
        // The onnx model holds the base's weights; an adapterhub export only checks against a base when given one.
        if (base === undefined && o.format === 'onnx') {
          base = join(tmp, 'base');
          await fetchBase(source.registry, manifest, base);
        }
        await run(adapter, base);
      });
    }
    process.stdout.write(describeWritten(o.out, `the ${o.format} export`));
  });

program
  .command('download')
  .description("download a task's adapter from the registry into a directory that predict, eval, export and train --init-adapter take")
  .option('--registry <uri>', REGISTRY_HELP_DEFAULT)
  .requiredOption('--task <name>', 'the task whose adapter to download')
  .option('--version <id>', 'the version (default: the newest)')
  .requiredOption('--out <dir>', 'output adapter directory (must not exist or be empty)')
  .option('--base-out <dir>', "also download the adapter's base model here (what --base takes)")
  .action(async (raw) => {
    const o = downloadFlags.parse(raw);
    assertWritableOutput(o.out);
    if (o.baseOut !== undefined) assertWritableOutput(o.baseOut);
    const registry = registryFor(o.registry);
    // Into a staging directory first: a failed download leaves no half adapter under --out.
    const manifest = await withTempDir('trainer-download-', async (tmp) => {
      const m = await fetchAdapter(registry, o.task, o.version, join(tmp, 'adapter'));
      if (o.baseOut !== undefined) await fetchBase(registry, m, join(tmp, 'base'));
      moveDir(join(tmp, 'adapter'), o.out);
      if (o.baseOut !== undefined) moveDir(join(tmp, 'base'), o.baseOut);
      return m;
    });
    process.stdout.write(describeWritten(o.out, `${manifest.task} version ${manifest.version} of ${registry.uri}`));
    if (o.baseOut !== undefined) process.stdout.write(describeWritten(o.baseOut, `its base "${manifest.baseModel.name}"`));
  });

program
  .command('init-base')
  .description('write a randomly initialised BERT in Hugging Face layout (no pretrained weights exist offline)')
  .requiredOption('--out <dir>', 'output directory')
  .option('--vocab <file>', 'vocab.txt to ship with the model (vocab_size = its line count)')
  .option('--vocab-size <n>', 'synthetic vocabulary size when no --vocab is given', positiveInt('--vocab-size'), 1000)
  .option('--hidden <n>', 'hidden size', positiveInt('--hidden'), 128)
  .option('--layers <n>', 'encoder layers', positiveInt('--layers'), 2)
  .option('--heads <n>', 'attention heads', positiveInt('--heads'), 2)
  .option('--intermediate <n>', 'feed-forward width (default 4 x hidden)', positiveInt('--intermediate'))
  .option('--max-positions <n>', 'max_position_embeddings', positiveInt('--max-positions'), 512)
  .option('--seed <n>', 'random seed', number('--seed', Number.isSafeInteger, 'an integer'), 0)
  .addOption(new Option('--dtype <dtype>', 'weights dtype').choices(BASE_WEIGHT_DTYPES).default('F32'))
  .action((raw) => {
    const o = initBaseFlags.parse(raw);
    if (o.hidden % o.heads !== 0) throw new InvalidArgumentError(`--hidden ${o.hidden} must be divisible by --heads ${o.heads}`);
    writeRandomBert(o.out, {
      hiddenSize: o.hidden,
      numLayers: o.layers,
      numHeads: o.heads,
      intermediateSize: o.intermediate ?? 4 * o.hidden,
      maxPositions: o.maxPositions,
      typeVocabSize: 2,
      vocabFile: o.vocab,
      vocabSize: o.vocab ? undefined : o.vocabSize,
      seed: o.seed,
      dtype: o.dtype,
      prefix: false,
      pooler: true,
    });
  });

program
  .command('upload-base')
  .description('check a base model directory (Hugging Face layout) and upload it to the registry as models/<name>/')
  .requiredOption('--dir <dir>', 'config.json, model.safetensors and vocab.txt or tokenizer.json')
  .requiredOption('--name <name>', 'the model name jobs give as baseModel (a-z, 0-9, "_", "-")')
  .requiredOption('--registry <uri>', REGISTRY_HELP)
  .action(async (raw) => {
    const o = uploadBaseFlags.parse(raw);
    // Everything a job will need is checked here, before a byte is uploaded.
    const base = loadBaseModel(o.dir);
    const family = familyOf(base.config);
    if (!hasTokenizerFiles(o.dir, family)) throw new Error(missingTokenizerMessage(o.dir, family));
    const tokenizer = await loadFamilyTextEncoder(o.dir, family, family.maxSequenceLength(base.config));
    tokenizer.encode('check'); // a broken vocabulary fails here, not in the first job
    const files = ['config.json', 'model.safetensors', ...tokenizerFileNames(o.dir)];
    const registry = Registry.fromUri(o.registry);
    // Published adapters name their base's weights sha256: a base model is never replaced.
    await registry.models.upload(o.name, o.dir, files).catch((err: unknown) => {
      throw err instanceof RegistryError && err.code === 'conflict' ? new Error(`${err.message}; pick another name`) : err;
    });
    process.stdout.write(
      `${JSON.stringify({
        name: o.name,
        files,
        weightsSha256: base.weightsSha256,
        layers: base.config.num_hidden_layers,
        hiddenSize: base.config.hidden_size,
      })}\n`,
    );
  });

addPretrainCommand(program);
addSweepCommand(program);
addAblateCommand(program);
addDoctorCommand(program);

// A mistyped command line gets commander's one line (with its "Did you mean …?") and where to look,
// not the whole help (a hundred lines that bury the error).
program.showHelpAfterError('Try "trainer --help" for the commands.');
for (const cmd of program.commands) cmd.showHelpAfterError(`Try "trainer ${cmd.name()} --help" for its options.`);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`error: ${(err as Error).message}\n`);
  process.exit(1);
}

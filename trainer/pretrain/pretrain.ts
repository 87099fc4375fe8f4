/**
 * `trainer pretrain`: masked-LM pretraining of a fresh BERT, or continued pretraining of an existing
 * base, on the trainer's own engine (graph -> autodiff -> ONNX -> onnxruntime). Packed sequences,
 * dynamic masking, gradient accumulation over micro-batches (weighted by their masked tokens, so a
 * step's gradient is that of the mean loss over all its masked tokens), AdamW with warm-up then linear
 * decay to 0 (one cycle), global-norm clipping, checkpoints that resume bit for bit, and a Hugging Face
 * BERT directory with a model card at the end.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BertConfig } from '../../shared/bert-config.ts';
import type { DatasetFormat } from '../../shared/training-data/index.ts';
import { parseBertConfig } from '../model-files/bert-config.ts';
import { ModelFileError } from '../model-files/errors.ts';
import { loadBertTokenizer } from '../tokenizer/bert-tokenizer.ts';
import { AdamW, clipGradNorm, type Param } from '../train/optimizer.ts';
import type { PretrainLog } from '../train/progress.ts';
import { learningRateAt } from '../train/schedule.ts';
import { runFingerprint } from '../util/fingerprint.ts';
import { Rng } from '../util/random.ts';
import { type PretrainPosition, readPretrainCheckpoint, type StepFigures, writePretrainCheckpoint } from './checkpoint.ts';
import { type Corpus, readCorpus } from './corpus.ts';
import { maskBatch } from './masking.ts';
import { modelCard, readJsonObject, type SaveDtype, writeMlmDir } from './output.ts';
import { freshValues, mlmParams, valuesFromBase } from './params.ts';
import { MlmSession } from './session.ts';
import { type MlmVocabulary, readVocabulary } from './vocabulary.ts';
import { MEASURED_STEPS, warmupWarning } from './warmup-budget.ts';

export const DEFAULT_VOCAB = fileURLToPath(new URL('../../assets/bert-base-uncased/vocab.txt', import.meta.url));

export interface FreshShape {
  layers: number;
  hidden: number;
  heads: number;
  intermediate: number;
  maxPosition: number;
}

export interface PretrainOptions {
  data: string[];
  out: string;
  /** Continue from this base directory; otherwise a fresh BERT of `shape`. */
  init?: string;
  shape: FreshShape;
  /** A vocab.txt or a tokenizer.json (default: --init's tokenizer, else the shipped bert-base-uncased vocab). */
  vocab?: string;
  tokenizer?: string;
  format?: DatasetFormat;
  textColumn?: string;
  maxBadRows?: number;
  maxSeqLen: number;
  mlmProbability: number;
  wholeWordMask: boolean;
  batchSize: number;
  gradAccum: number;
  lr: number;
  warmupSteps: number;
  weightDecay: number;
  maxGradNorm: number;
  /** Exactly one of the three. */
  maxSteps?: number;
  maxTokens?: number;
  maxMinutes?: number;
  checkpointEvery: number;
  checkpointDir?: string;
  resume: boolean;
  seed: number;
  threads?: number;
  saveDtype: SaveDtype;
  /** For the model card: the corpus's terms, in words. */
  corpusNote?: string;
  /** The command line, for the model card. */
  command: string;
  log: PretrainLog;
  /** Called after every optimizer step (and its checkpoint): tests stop a run here as a kill would. */
  onStep?: (step: number) => void;
}

export interface PretrainResult {
  steps: number;
  tokensSeen: number;
  finalLoss: number;
  finalAccuracy: number;
  tokensPerSecond: number;
}

/** Final loss and accuracy are averaged over this many last steps (one step's figures are noisy). */
const RECENT = 50;

function checkOptions(o: PretrainOptions): void {
  const budgets = [o.maxSteps, o.maxTokens, o.maxMinutes].filter((x) => x !== undefined).length;
  if (budgets !== 1) throw new Error('give exactly one of --max-steps, --max-tokens, --max-minutes');
  if (o.vocab && o.tokenizer) throw new Error('give --vocab or --tokenizer, not both');
  if (!(o.mlmProbability > 0 && o.mlmProbability < 1)) throw new Error(`--mlm-probability must be in (0, 1), got ${o.mlmProbability}`);
  if (existsSync(o.out) && readdirSync(o.out).length > 0)
    throw new ModelFileError(`--out ${o.out}: directory is not empty; choose a new directory`);
}

/** The directory whose tokenizer files the run uses and the output ships: --init's, or a staged copy of --vocab / --tokenizer. */
function tokenizerDir(o: PretrainOptions, checkpointDir: string): string {
  if (o.init && !o.vocab && !o.tokenizer) return o.init;
  const dir = join(checkpointDir, 'tokenizer');
  mkdirSync(dir, { recursive: true });
  const file = o.tokenizer ?? o.vocab ?? DEFAULT_VOCAB;
  if (!existsSync(file)) throw new Error(`${o.tokenizer ? '--tokenizer' : '--vocab'} ${file}: file not found`);
  copyFileSync(file, join(dir, o.tokenizer ? 'tokenizer.json' : 'vocab.txt'));
  return dir;
}

function freshConfig(s: FreshShape, vocabSize: number, seqLen: number): BertConfig {
  if (s.maxPosition < seqLen) throw new Error(`--max-position ${s.maxPosition} is below --max-seq-len ${seqLen}`);
  return parseBertConfig(
    {
      vocab_size: vocabSize,
      hidden_size: s.hidden,
      num_hidden_layers: s.layers,
      num_attention_heads: s.heads,
      intermediate_size: s.intermediate,
      hidden_act: 'gelu',
      max_position_embeddings: s.maxPosition,
      type_vocab_size: 2,
      layer_norm_eps: 1e-12,
      initializer_range: 0.02,
      model_type: 'bert',
    },
    'the --layers/--hidden/--heads/--intermediate/--max-position options',
  );
}

function fingerprint(o: PretrainOptions, config: BertConfig, corpus: Corpus): string {
  const mayDiffer = ['log', 'resume', 'threads', 'checkpointEvery', 'checkpointDir', 'out', 'command', 'corpusNote', 'saveDtype'] as const;
  return runFingerprint(o, mayDiffer, { config, sequences: corpus.count, streamTokens: corpus.streamTokens });
}

export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  checkOptions(o);
  const log = o.log;
  const checkpointDir = o.checkpointDir ?? `${o.out}.checkpoint`;
  const tokDir = tokenizerDir(o, checkpointDir);
  const vocab: MlmVocabulary = readVocabulary(tokDir);
  const rng = new Rng(o.seed);
  const init = o.init ? valuesFromBase(o.init, rng, vocab.padId) : null;
  const config = init?.config ?? freshConfig(o.shape, vocab.size, o.maxSeqLen);
  if (config.vocab_size !== vocab.size)
    throw new Error(`the tokenizer has ${vocab.size} tokens but the model's vocab_size is ${config.vocab_size}`);
  if (o.maxSeqLen > config.max_position_embeddings)
    throw new Error(`--max-seq-len ${o.maxSeqLen} exceeds the model's max_position_embeddings ${config.max_position_embeddings}`);
  const values = init?.values ?? freshValues(config, rng, vocab.padId);
  if (o.init && init && init.fresh.length > 0) log({ event: 'init', from: o.init, freshTensors: init.fresh });

  const tokenizer = await loadBertTokenizer(tokDir, { maxSeqLen: 1 << 30 });
  const readStart = performance.now();
  const corpus = await readCorpus(o.data, {
    seqLen: o.maxSeqLen,
    vocab,
    tokenizer,
    format: o.format,
    textColumn: o.textColumn,
    maxBadRows: o.maxBadRows,
  });
  const skipped = corpus.sources.reduce((n, s) => n + s.skipped.length, 0);
  log({
    event: 'corpus',
    documents: corpus.documents,
    tokens: corpus.streamTokens,
    sequences: corpus.count,
    seqLen: corpus.seqLen,
    skippedRows: skipped,
    seconds: (performance.now() - readStart) / 1000,
  });

  const seqPerStep = o.batchSize * o.gradAccum;
  if (corpus.count < o.batchSize)
    throw new Error(
      `--data: the corpus packs into ${corpus.count} sequences of ${o.maxSeqLen}, fewer than one batch (--batch-size ${o.batchSize})`,
    );
  const tokensPerStep = seqPerStep * o.maxSeqLen;
  const totalSteps = o.maxSteps ?? (o.maxTokens !== undefined ? Math.ceil(o.maxTokens / tokensPerStep) : null);
  const budgetSeconds = o.maxMinutes !== undefined ? o.maxMinutes * 60 : null;
  const print = fingerprint(o, config, corpus);

  const all = mlmParams(config);
  const shapes = new Map(all.map((p) => [p.name, p.shape]));
  const trained: Param[] = all.filter((p) => p.trained).map((p) => ({ name: p.name, data: values.get(p.name)! }));
  const optimizer = new AdamW(trained, { lr: o.lr, weightDecay: o.weightDecay });
  const orderRng = new Rng(o.seed + 1);
  const maskRng = new Rng(o.seed + 2);
  let pos: PretrainPosition = {
    step: 0,
    optimizerStep: 0,
    epoch: 1,
    cursor: 0,
    epochRng: orderRng.getState(),
    maskRng: maskRng.getState(),
    tokensSeen: 0,
    trainSeconds: 0,
    warmupEndFraction: null,
    recent: [],
  };
  if (o.resume) {
    const saved = readPretrainCheckpoint(checkpointDir);
    if (saved && 'torn' in saved) log({ event: 'checkpoint-ignored', reason: saved.torn });
    else if (saved) {
      if (saved.state.fingerprint !== print)
        throw new Error(
          `--resume: the checkpoint in ${checkpointDir} was written by a run with other data or options; remove it or change --checkpoint-dir`,
        );
      for (const [name, data] of saved.tensors.params) values.get(name)!.set(data);
      pos = saved.state.position;
      optimizer.loadState({
        step: pos.optimizerStep,
        m: trained.map((p) => saved.tensors.adamM.get(p.name)!),
        v: trained.map((p) => saved.tensors.adamV.get(p.name)!),
      });
      maskRng.setState(pos.maskRng);
      log({ event: 'resume', from: checkpointDir, seed: o.seed, step: pos.step });
    }
  }
  const parameters = all.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  log({
    event: 'start',
    layers: config.num_hidden_layers,
    hidden: config.hidden_size,
    parameters,
    sequences: corpus.count,
    tokensPerStep,
    totalSteps,
    maxMinutes: o.maxMinutes ?? null,
  });

  if (totalSteps !== null) {
    const warning = warmupWarning({ warmupSteps: o.warmupSteps, lr: o.lr, budgetSteps: totalSteps });
    if (warning) log(warning);
  }

  const session = await MlmSession.create(config, values, { threads: o.threads });
  // The epoch's order, drawn from the order generator's state at the epoch's start.
  const drawOrder = (): number[] => {
    orderRng.setState(pos.epochRng);
    const order = orderRng.shuffle(Array.from({ length: corpus.count }, (_, i) => i));
    return order;
  };
  let order = drawOrder();
  const nextIndices = (): number[] => {
    if (pos.cursor + o.batchSize > order.length) {
      pos.epoch++;
      pos.cursor = 0;
      pos.epochRng = orderRng.getState(); // the state right after the previous epoch's shuffle
      order = drawOrder();
    }
    const idx = order.slice(pos.cursor, pos.cursor + o.batchSize);
    pos.cursor += o.batchSize;
    return idx;
  };
  const lrAt = (step: number): number => {
    if (totalSteps !== null) return learningRateAt(step, { base: o.lr, totalSteps, warmupSteps: o.warmupSteps, kind: 'linear' });
    if (step < o.warmupSteps) return (o.lr * step) / o.warmupSteps;
    // --max-minutes: after warm-up the rate falls linearly to 0 at the end of the time budget (Cramming's budgeted one-cycle).
    const f = pos.trainSeconds / budgetSeconds!;
    const fw = pos.warmupEndFraction ?? f;
    return o.lr * Math.max(0, (1 - f) / Math.max(1e-9, 1 - fw));
  };
  const done = (): boolean =>
    (totalSteps !== null && pos.step >= totalSteps) || (budgetSeconds !== null && pos.trainSeconds >= budgetSeconds);

  const accum = trained.map((p) => new Float32Array(p.data.length));
  let timed = { steps: 0, tokens: 0, seconds: 0 };
  while (!done()) {
    const started = performance.now();
    if (budgetSeconds !== null && pos.step === o.warmupSteps && pos.warmupEndFraction === null)
      pos.warmupEndFraction = pos.trainSeconds / budgetSeconds;
    const lr = lrAt(pos.step);
    const fig: StepFigures = { step: pos.step + 1, lossSum: 0, correct: 0, masked: 0 };
    for (const a of accum) a.fill(0);
    for (let k = 0; k < o.gradAccum; k++) {
      const batch = maskBatch(
        corpus.sequences,
        corpus.seqLen,
        nextIndices(),
        { probability: o.mlmProbability, wholeWord: o.wholeWordMask, vocab },
        maskRng,
      );
      const r = await session.step(batch);
      if (!Number.isFinite(r.loss)) throw new Error(`pretraining diverged: loss is ${r.loss} at step ${pos.step + 1} (lower --lr?)`);
      const m = batch.labels.length;
      fig.lossSum += r.loss * m;
      fig.correct += r.correct;
      fig.masked += m;
      trained.forEach((p, i) => {
        const g = r.grads.get(p.name)!;
        const a = accum[i];
        for (let j = 0; j < a.length; j++) a[j] += g[j] * m;
      });
    }
    const inv = 1 / fig.masked;
    for (const a of accum) for (let j = 0; j < a.length; j++) a[j] *= inv;
    const gradNorm = clipGradNorm(accum, o.maxGradNorm);
    optimizer.step(accum, lr);
    const seconds = (performance.now() - started) / 1000;
    pos.step++;
    pos.optimizerStep = optimizer.stepCount;
    pos.tokensSeen += tokensPerStep;
    pos.trainSeconds += seconds;
    pos.recent = [...pos.recent, fig].slice(-RECENT);
    // The first step pays for session warm-up; throughput leaves it out.
    if (pos.step > 1) timed = { steps: timed.steps + 1, tokens: timed.tokens + tokensPerStep, seconds: timed.seconds + seconds };
    const loss = fig.lossSum / fig.masked;
    const estimate = totalSteps ?? Math.max(pos.step, Math.round((pos.step * budgetSeconds!) / pos.trainSeconds));
    log({
      event: 'step',
      seed: o.seed,
      step: pos.step,
      totalSteps: estimate,
      epoch: pos.epoch,
      loss,
      accuracy: fig.correct / fig.masked,
      lr,
      gradNorm,
      examples: seqPerStep,
      tokens: pos.tokensSeen,
      seconds,
    });
    // A time budget: once a few steps are measured, the steps it allows are known well enough to judge the warm-up.
    if (budgetSeconds !== null && timed.steps === MEASURED_STEPS && pos.step < o.warmupSteps) {
      const secondsPerStep = timed.seconds / timed.steps;
      const budgetSteps = pos.step + Math.max(0, Math.floor((budgetSeconds - pos.trainSeconds) / secondsPerStep));
      const warning = warmupWarning({
        warmupSteps: o.warmupSteps,
        lr: o.lr,
        budgetSteps,
        time: { maxMinutes: o.maxMinutes!, secondsPerStep },
      });
      if (warning) log(warning);
    }
    if (o.checkpointEvery > 0 && pos.step % o.checkpointEvery === 0 && !done()) {
      pos.maskRng = maskRng.getState();
      const st = optimizer.state();
      writePretrainCheckpoint(
        checkpointDir,
        print,
        pos,
        {
          params: values,
          adamM: new Map(trained.map((p, i) => [p.name, st.m[i]])),
          adamV: new Map(trained.map((p, i) => [p.name, st.v[i]])),
        },
        shapes,
      );
      log({ event: 'checkpoint', dir: checkpointDir, step: pos.step });
    }
    o.onStep?.(pos.step);
  }
  await session.release();

  const sum = (f: (s: StepFigures) => number) => pos.recent.reduce((n, s) => n + f(s), 0);
  const masked = sum((s) => s.masked);
  const result: PretrainResult = {
    steps: pos.step,
    tokensSeen: pos.tokensSeen,
    finalLoss: sum((s) => s.lossSum) / masked,
    finalAccuracy: sum((s) => s.correct) / masked,
    tokensPerSecond: timed.seconds > 0 ? timed.tokens / timed.seconds : 0,
  };
  const card = modelCard({
    command: o.command,
    config,
    init: o.init ? basename(o.init) : null,
    data: corpus.sources.map((s) => ({ name: s.name, documents: s.documents })),
    corpusNote: o.corpusNote,
    sequences: corpus.count,
    seqLen: corpus.seqLen,
    steps: pos.step,
    tokensSeen: pos.tokensSeen,
    effectiveBatch: seqPerStep,
    lr: o.lr,
    warmupSteps: o.warmupSteps,
    weightDecay: o.weightDecay,
    mlmProbability: o.mlmProbability,
    wholeWordMask: o.wholeWordMask,
    finalLoss: result.finalLoss,
    finalAccuracy: result.finalAccuracy,
    finalOver: pos.recent.length,
    trainMinutes: pos.trainSeconds / 60,
    threads: o.threads ?? null,
    parameters,
  });
  const sourceConfig = o.init ? readJsonObject(join(o.init, 'config.json')) : undefined;
  writeMlmDir(o.out, config, values, { dtype: o.saveDtype, tokenizerDir: tokDir, sourceConfig, card });
  log({ event: 'done', out: o.out, ...result });
  return result;
}

/** `trainer pretrain`: its options, checked, and the call into pretrain(). */
import { Command, Option } from 'commander';
import { DATASET_FORMATS, DEFAULT_FIELDS } from '../../shared/training-data/index.ts';
import { FLOAT_STORAGE_DTYPES } from '../../shared/vocabulary.ts';
import { logger, nonNegative, nonNegativeInt, number, positive, positiveInt } from '../cli-args.ts';
import { type PretrainOptions, pretrain } from './pretrain.ts';

/** The command as typed, for the model card (arguments with spaces or quotes quoted). */
function commandLine(argv: readonly string[]): string {
  const at = argv.indexOf('pretrain');
  const quote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", "'\\''")}'`);
  return ['npm run --silent trainer --', ...argv.slice(at).map(quote)].join(' ');
}

/** The `pretrain` command; `run` receives its checked options. */
function pretrainCommand(run: (o: PretrainOptions) => Promise<unknown>): Command {
  return new Command('pretrain')
    .description(
      'pretrain a BERT by masked-language modelling (fresh, or continued from --init) and write a Hugging Face BERT directory with a model card',
    )
    .requiredOption(
      '--data <uris>',
      "unlabelled text: comma-separated paths, file:// or s3:// URIs of JSONL, CSV or TSV (gzip ok); each row's --text-column is one document",
    )
    .requiredOption('--out <dir>', 'output model directory (must not exist or be empty)')
    .option('--init <dir>', 'continue pretraining this base (Hugging Face BERT directory); otherwise a fresh BERT of --layers/--hidden/...')
    .option('--layers <n>', 'fresh BERT: layers', positiveInt('--layers'), 4)
    .option('--hidden <n>', 'fresh BERT: hidden size', positiveInt('--hidden'), 256)
    .option('--heads <n>', 'fresh BERT: attention heads', positiveInt('--heads'), 4)
    .option('--intermediate <n>', 'fresh BERT: feed-forward size', positiveInt('--intermediate'), 1024)
    .option('--max-position <n>', 'fresh BERT: max_position_embeddings', positiveInt('--max-position'), 512)
    .option('--vocab <file>', "WordPiece vocab.txt (default: --init's tokenizer, else the shipped bert-base-uncased vocab)")
    .option('--tokenizer <file>', 'a tokenizer.json instead of --vocab')
    .addOption(new Option('--format <format>', 'data format (default: from the file name; gzip is detected)').choices(DATASET_FORMATS))
    .option('--text-column <name>', `column / field holding the text (default: "${DEFAULT_FIELDS.text}")`)
    .option('--max-bad-rows <n>', 'skip and count up to N bad rows instead of failing on the first', nonNegativeInt('--max-bad-rows'), 0)
    .option('--max-seq-len <n>', 'tokens per packed sequence, [CLS] included', positiveInt('--max-seq-len'), 128)
    .option(
      '--mlm-probability <p>',
      'share of tokens (or words) masked',
      number('--mlm-probability', (v) => v > 0 && v < 1, 'in (0, 1)'),
      0.15,
    )
    .option('--whole-word-mask', 'mask whole words (a token and its ## pieces) together')
    .option('--batch-size <n>', 'sequences per micro-batch', positiveInt('--batch-size'), 32)
    .option('--grad-accum <n>', 'micro-batches per optimizer step', positiveInt('--grad-accum'), 1)
    .option('--lr <rate>', 'peak learning rate', positive('--lr'), 1e-3)
    .option('--warmup-steps <n>', 'steps of linear warm-up (then linear decay to 0)', nonNegativeInt('--warmup-steps'), 0)
    .option('--weight-decay <wd>', 'decoupled weight decay (not on biases and LayerNorms)', nonNegative('--weight-decay'), 0.01)
    .option('--max-grad-norm <n>', 'clip the global gradient norm (0 = off)', nonNegative('--max-grad-norm'), 1)
    .option('--max-steps <n>', 'stop after N optimizer steps', positiveInt('--max-steps'))
    .option('--max-tokens <n>', 'stop after N tokens (steps = ceil(N / (batch x accum x seq len)))', positiveInt('--max-tokens'))
    .option(
      '--max-minutes <m>',
      'stop after M minutes of training; the learning rate decays to 0 at that time (not bit-reproducible)',
      positive('--max-minutes'),
    )
    .option('--checkpoint-every <n>', 'save a resumable checkpoint every N steps (0: off)', nonNegativeInt('--checkpoint-every'), 0)
    .option('--checkpoint-dir <dir>', 'where checkpoints go (default: <out>.checkpoint)')
    .option('--resume', 'continue from the checkpoint in --checkpoint-dir if there is one')
    .option('--seed <n>', 'random seed (init, order, masking)', number('--seed', Number.isSafeInteger, 'an integer'), 42)
    .option('--threads <n>', 'CPU threads for onnxruntime (default: all cores)', positiveInt('--threads'))
    .addOption(new Option('--save-dtype <dtype>', 'storage type of model.safetensors').choices(FLOAT_STORAGE_DTYPES).default('f32'))
    .option('--corpus-note <text>', 'the corpus and its terms, in words, for the model card')
    .option('--quiet', 'no progress output')
    .action(async (o) => {
      await run({
        data: String(o.data)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
        out: o.out,
        init: o.init,
        shape: { layers: o.layers, hidden: o.hidden, heads: o.heads, intermediate: o.intermediate, maxPosition: o.maxPosition },
        vocab: o.vocab,
        tokenizer: o.tokenizer,
        format: o.format,
        textColumn: o.textColumn,
        maxBadRows: o.maxBadRows,
        maxSeqLen: o.maxSeqLen,
        mlmProbability: o.mlmProbability,
        wholeWordMask: Boolean(o.wholeWordMask),
        batchSize: o.batchSize,
        gradAccum: o.gradAccum,
        lr: o.lr,
        warmupSteps: o.warmupSteps,
        weightDecay: o.weightDecay,
        maxGradNorm: o.maxGradNorm,
        maxSteps: o.maxSteps,
        maxTokens: o.maxTokens,
        maxMinutes: o.maxMinutes,
        checkpointEvery: o.checkpointEvery,
        checkpointDir: o.checkpointDir,
        resume: Boolean(o.resume),
        seed: o.seed,
        threads: o.threads,
        saveDtype: o.saveDtype,
        corpusNote: o.corpusNote,
        command: commandLine(process.argv),
        log: logger(Boolean(o.quiet)),
      });
    });
}

export function addPretrainCommand(program: Command): void {
  program.addCommand(pretrainCommand((o) => pretrain(o)).copyInheritedSettings(program));
}

/** The options a `pretrain` command line gives, without running it (tests run them in-process). */
export async function pretrainOptions(args: readonly string[]): Promise<PretrainOptions> {
  let options: PretrainOptions | null = null;
  await pretrainCommand(async (o) => {
    options = o;
  }).parseAsync([...args], { from: 'user' });
  if (!options) throw new Error('pretrain: no options parsed');
  return options;
}

/**
 * `trainer sweep` and its hidden child command. The sweep takes every option of `train` (the same
 * Option objects, so the same checks and defaults) except --out and --checkpoint-dir, which are per run,
 * plus --grid and --parallel; a grid key's values go through that train option's own parser.
 */
import type { Command, Option } from 'commander';
import { logger, positiveInt } from '../cli-args.ts';
import { trainFlags, trainOptionsFromFlags } from '../cli-flags.ts';
import { SWEEP_RUN_COMMAND, serveChildRun } from './child-run.ts';
import { GRID_KEYS, type GridValue, parseGrid, type ValueParser } from './grid.ts';
import { runSweep, type SweepEvent } from './sweep.ts';

const PER_RUN = ['--out', '--checkpoint-dir'];

function trainCommand(program: Command): Command {
  const train = program.commands.find((c) => c.name() === 'train');
  if (!train) throw new Error('sweep: register the train command first');
  return train;
}

/** Each grid key's parser: the train option's own (range checks, choices, true/false). */
function gridParsers(options: readonly Option[]): Map<string, ValueParser> {
  const parsers = new Map<string, ValueParser>();
  for (const key of GRID_KEYS) {
    const option = options.find((o) => o.long === `--${key}`);
    if (!option) throw new Error(`sweep: train has no option --${key}`);
    parsers.set(key, (text) => {
      if (option.argChoices && !option.argChoices.includes(text))
        throw new Error(`--${key} must be one of ${option.argChoices.join(', ')}, got "${text}"`);
      return option.parseArg ? option.parseArg<GridValue>(text, undefined as unknown as GridValue) : text;
    });
  }
  return parsers;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addSweepCommand(program: Command): void {
  const trainOptions = trainCommand(program).options;
  const sweep = program
    .command('sweep')
    .description(
      'train every point of a hyperparameter grid (x seeds), pick the best on validation by --metric, and write best/, sweep.json and sweep.svg',
    )
    .requiredOption(
      '--grid <key=values>',
      `values of one train option to sweep, e.g. lr=1e-4,3e-4,1e-3 (repeatable; keys: ${GRID_KEYS.join(', ')})`,
      collect,
    )
    .option(
      '--parallel <n>',
      'runs at a time, each in its own process with cores / N threads (1: one after the other, here)',
      positiveInt('--parallel'),
      1,
    );
  for (const option of trainOptions) if (!PER_RUN.includes(option.long ?? '')) sweep.addOption(option);
  sweep.requiredOption('--out <dir>', 'sweep directory (new, or the same sweep to resume it)');
  sweep.action(async (raw: Record<string, unknown>, cmd: Command) => {
    const { grid, parallel, ...rest } = raw as { grid: string[]; parallel: number };
    const axes = parseGrid(grid, gridParsers(trainOptions));
    for (const axis of axes) {
      const attr = trainOptions.find((o) => o.long === `--${axis.key}`)!.attributeName();
      if (cmd.getOptionValueSource(attr) === 'cli') throw new Error(`--${axis.key} and --grid ${axis.key}=...: give one of them`);
    }
    const flags = trainFlags.parse(rest);
    const quiet = flags.quiet === true;
    const { out, seeds, log, ...train } = trainOptionsFromFlags(flags, logger(quiet));
    await runSweep({
      train,
      axes,
      seeds,
      parallel,
      out,
      trainLog: log,
      log: (e: SweepEvent) => {
        if (!quiet) process.stderr.write(`${JSON.stringify(e)}\n`);
      },
    });
  });
  program.command(SWEEP_RUN_COMMAND, { hidden: true }).action(() => serveChildRun());
}

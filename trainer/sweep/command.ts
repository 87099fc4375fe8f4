/**
 * `trainer sweep` and its hidden child command. The sweep takes every option of `train` (the same
 * Option objects, so the same checks and defaults) except --out and --checkpoint-dir, which are per run,
 * plus --grid and --parallel; a grid key's values go through that train option's own parser.
 */
import type { Command } from 'commander';
import { logger, positiveInt } from '../cli-args.ts';
import { trainFlags, trainOptionsFromFlags } from '../cli-flags.ts';
import { SWEEP_RUN_COMMAND, serveChildRun } from './child-run.ts';
import { GRID_FLAGS, gridParsers, parseGrid } from './grid.ts';
import { runSweep, type SweepEvent } from './sweep.ts';

const PER_RUN = ['--out', '--checkpoint-dir'];

function trainCommand(program: Command): Command {
  const train = program.commands.find((c) => c.name() === 'train');
  if (!train) throw new Error('sweep: register the train command first');
  return train;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function addSweepCommand(program: Command): void {
  const trainOptions = trainCommand(program).options;
  // Built with the command, so a grid key without its train flag fails every CLI run, not only a sweep.
  const parsers = gridParsers(trainOptions);
  const sweep = program
    .command('sweep')
    .description(
      'train every point of a hyperparameter grid (x seeds), pick the best on validation by --metric, and write best/, sweep.json and sweep.svg',
    )
    .requiredOption(
      '--grid <key=values>',
      `values of one train option to sweep, e.g. lr=1e-4,3e-4,1e-3 (repeatable; keys: ${Object.values(GRID_FLAGS).join(', ')})`,
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
    const axes = parseGrid(grid, parsers);
    for (const { key } of axes) {
      const flag = GRID_FLAGS[key];
      if (cmd.getOptionValueSource(key) === 'cli') throw new Error(`--${flag} and --grid ${flag}=...: give one of them`);
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

/**
 * `trainer ablate`: the options of `eval` (base, adapter, batch size, device, data format) as the same
 * Option objects, plus --data, --out (a directory) and --metric; writes ablation.json and ablation.svg.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { z } from 'zod';
import { SELECTION_METRICS } from '../../shared/vocabulary.ts';
import { evalFlags } from '../cli-flags.ts';
import { trainDefaults } from '../train/defaults.ts';
import { ablate } from './ablation.ts';
import { ablationHeatmap } from './heatmap.ts';

const ablateFlags = evalFlags
  .omit({ out: true })
  .extend({ out: z.string(), metric: z.enum(SELECTION_METRICS), quiet: z.literal(true).optional() })
  .strict();

export function addAblateCommand(program: Command): void {
  const evalCommand = program.commands.find((c) => c.name() === 'eval');
  if (!evalCommand) throw new Error('ablate: register the eval command first');
  const cmd = program
    .command('ablate')
    .description(
      "validation metric with the adapters of every contiguous span of layers removed (LayerNorms and head kept as trained): ablation.json and a heat map in the paper's layout (ablation.svg)",
    );
  for (const option of evalCommand.options) if (!['--out', '--data'].includes(option.long ?? '')) cmd.addOption(option);
  cmd
    .requiredOption('--data <uri>', 'labelled validation rows: path, file:// or s3:// URI of JSONL, CSV or TSV')
    .requiredOption('--out <dir>', 'output directory (must not exist or be empty)')
    .addOption(new Option('--metric <name>', 'the metric shown').choices(SELECTION_METRICS).default(trainDefaults.metric))
    .option('--quiet', 'no progress output')
    .action(async (raw) => {
      const o = ablateFlags.parse(raw);
      if (existsSync(o.out) && readdirSync(o.out).length > 0)
        throw new Error(`--out ${o.out}: directory is not empty; choose a new directory`);
      const result = await ablate({
        ...o,
        onSpan: (span, value) => {
          if (!o.quiet) process.stderr.write(`${JSON.stringify({ event: 'ablate-span', ...span, [o.metric]: value })}\n`);
        },
      });
      mkdirSync(o.out, { recursive: true });
      writeFileSync(join(o.out, 'ablation.json'), `${JSON.stringify(result, null, 2)}\n`);
      writeFileSync(
        join(o.out, 'ablation.svg'),
        ablationHeatmap(result.spans, { numLayers: result.numLayers, metric: o.metric, unablated: result.unablated.value }),
      );
      process.stdout.write(
        `${JSON.stringify({ out: o.out, unablated: result.unablated.value, spans: result.spans.length, seconds: result.seconds })}\n`,
      );
    });
}

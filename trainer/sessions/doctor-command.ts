/** `trainer doctor`: its options and the report; exits non-zero with the reasons when the device fails. */
import { type Command, Option } from 'commander';
import { DEVICES } from '../../shared/vocabulary.ts';
import { positiveInt } from '../cli-args.ts';
import { formatDoctorReport, runDoctor } from './doctor.ts';
import type { Device } from './session.ts';

export function addDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'check a device before training on it: two steps of a tiny BERT there vs the CPU (same loss), and an onnxruntime profile ' +
        'showing every matrix product, attention and normalisation node on its provider (run-job runs it first on cuda)',
    )
    .addOption(new Option('--device <device>', 'execution provider to check').choices(DEVICES).default('cpu').env('TRAINER_DEVICE'))
    .option('--threads <n>', 'CPU threads for onnxruntime (default: all cores)', positiveInt('--threads'))
    .action(async (o: { device: Device; threads?: number }) => {
      const report = await runDoctor({ device: o.device, threads: o.threads });
      process.stdout.write(formatDoctorReport(report));
      if (report.failures.length > 0) throw new Error(`doctor: --device ${o.device} failed: ${report.failures.join('; ')}`);
    });
}

/**
 * Training progress for people and for machines: a progress bar (step, epoch, loss, examples/s, ETA)
 * on a terminal; one JSON object per line otherwise (batch jobs, CI, log collectors).
 */
import { SingleBar } from 'cli-progress';
import type { PretrainEvent, PretrainStepEvent, StepEvent, TrainerEvent } from '../../shared/trainer-events.ts';

export type TrainLog = (event: TrainerEvent) => void;
export type PretrainLog = (event: PretrainEvent) => void;

/** Each event as one JSON line, stamped with the time (any event union: the trainer's, a job's). */
export function jsonLines<E extends { event: string }>(write: (line: string) => void): (event: E) => void {
  return (event) => write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);
}

const fmt = (v: unknown) =>
  typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(4) : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);

/** A progress bar for the step events of `train` and `pretrain`; every other event as one line. */
export function terminalProgress(stream: NodeJS.WriteStream): (event: TrainerEvent | PretrainEvent) => void {
  let bar: SingleBar | null = null;
  let examples = 0;
  let seconds = 0;
  const line = (text: string) => {
    if (bar) bar.stop();
    bar = null;
    stream.write(`${text}\n`);
  };
  const stepBar = (e: StepEvent | PretrainStepEvent) => {
    examples += e.examples;
    seconds += e.seconds;
    const payload = { seed: e.seed, epoch: e.epoch, epochs: 'epochs' in e ? e.epochs : '-' };
    if (!bar) {
      bar = new SingleBar({
        stream,
        format: 'seed {seed} |{bar}| step {value}/{total} | epoch {epoch}/{epochs} | loss {loss} | {rate} ex/s | ETA {eta_formatted}',
        hideCursor: true,
      });
      bar.start(e.totalSteps, e.step - 1, { ...payload, loss: '-', rate: '-' });
    }
    bar.update(e.step, { ...payload, loss: e.loss.toFixed(4), rate: (examples / seconds).toFixed(1) });
  };
  return (event) => {
    switch (event.event) {
      case 'step':
        stepBar(event);
        return;
      case 'below-majority':
      case 'warmup-warning':
        line(`warning: ${event.message}`);
        return;
      default: {
        const { event: name, ...rest } = event;
        line(
          `${name.padEnd(12)} ${Object.entries(rest)
            .map(([k, v]) => `${k}=${fmt(v)}`)
            .join(' ')}`,
        );
      }
    }
  };
}

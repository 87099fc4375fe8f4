/**
 * Training progress for people and for machines: a progress bar (step, epoch, loss, examples/s, ETA)
 * on a terminal; one JSON object per line otherwise (batch jobs, CI, log collectors).
 */
import { SingleBar } from 'cli-progress';

export type TrainLog = (event: Record<string, unknown>) => void;

export function jsonLines(write: (line: string) => void): TrainLog {
  return (event) => write(JSON.stringify({ time: new Date().toISOString(), ...event }) + '\n');
}

const fmt = (v: unknown) => (typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(4) : typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v));

export function terminalProgress(stream: NodeJS.WriteStream): TrainLog {
  let bar: SingleBar | null = null;
  let examples = 0;
  let seconds = 0;
  const line = (text: string) => {
    if (bar) bar.stop();
    bar = null;
    stream.write(text + '\n');
  };
  return (event) => {
    const { event: name, ...rest } = event;
    if (name === 'step') {
      const step = Number(rest.step);
      const total = Number(rest.totalSteps);
      examples += Number(rest.examples);
      seconds += Number(rest.seconds);
      if (!bar) {
        bar = new SingleBar({
          stream,
          format: 'seed {seed} |{bar}| step {value}/{total} | epoch {epoch}/{epochs} | loss {loss} | {rate} ex/s | ETA {eta_formatted}',
          hideCursor: true,
        });
        bar.start(total, step - 1, { seed: rest.seed, epoch: rest.epoch, epochs: rest.epochs, loss: '-', rate: '-' });
      }
      bar.update(step, { seed: rest.seed, epoch: rest.epoch, epochs: rest.epochs, loss: Number(rest.loss).toFixed(4), rate: (examples / seconds).toFixed(1) });
      return;
    }
    line(`${String(name).padEnd(12)} ${Object.entries(rest).map(([k, v]) => `${k}=${fmt(v)}`).join(' ')}`);
  };
}

/** Commander argument parsers and the progress logger that every trainer command shares. */
import { InvalidArgumentError } from 'commander';
import type { PretrainEvent, TrainerEvent } from '../shared/trainer-events.ts';
import { jsonLines, terminalProgress } from './train/progress.ts';

/** A parser for a numeric flag that refuses anything but a finite number passing `check`. */
export function number(flag: string, check: (v: number) => boolean, rule: string) {
  return (text: string): number => {
    const v = Number(text);
    if (text.trim() === '' || !Number.isFinite(v) || !check(v)) throw new InvalidArgumentError(`${flag} must be ${rule}, got "${text}"`);
    return v;
  };
}
export const positiveInt = (flag: string) => number(flag, (v) => Number.isInteger(v) && v > 0, 'a positive integer');
export const positive = (flag: string) => number(flag, (v) => v > 0, 'a positive number');
export const nonNegative = (flag: string) => number(flag, (v) => v >= 0, 'a number >= 0');
export const nonNegativeInt = (flag: string) => number(flag, (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0');
export const ratio = (flag: string, max = 1) => number(flag, (v) => v >= 0 && v < max, `a number in [0, ${max})`);

/** A flag spelled `true` or `false` (so a default of true can be turned off explicitly). */
export function trueOrFalse(flag: string) {
  return (text: string): boolean => {
    if (text !== 'true' && text !== 'false') throw new InvalidArgumentError(`${flag} must be true or false, got "${text}"`);
    return text === 'true';
  };
}

export function seedList(text: string): number[] {
  const seeds = text.split(',').map((s) => s.trim());
  if (seeds.some((s) => !/^-?\d+$/.test(s)) || new Set(seeds).size !== seeds.length)
    throw new InvalidArgumentError(`--seeds must be distinct integers like 1,2,3, got "${text}"`);
  return seeds.map(Number);
}

/** Progress on a terminal, JSON lines otherwise (Batch logs, pipes); with --quiet, warnings only. */
export function logger(quiet: boolean): (event: TrainerEvent | PretrainEvent) => void {
  if (quiet)
    return (event) => {
      if (event.event === 'below-majority') process.stderr.write(`warning: ${event.message}\n`);
    };
  return process.stderr.isTTY ? terminalProgress(process.stderr) : jsonLines((l) => process.stderr.write(l));
}

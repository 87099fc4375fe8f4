/**
 * What the benchmark scripts share: their flags (all strings with defaults, plus switches), passing
 * flags on to a child benchmark, and reading the JSON line a child benchmark prints last.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

/** Parses `--name value` flags with these defaults and the given boolean switches (default off). */
export function benchArgs<D extends Record<string, string>, S extends string = never>(
  defaults: D,
  switches: readonly S[] = [],
): { [K in keyof D]: string } & { [K in S]: boolean } {
  const options: Record<string, { type: 'string'; default: string } | { type: 'boolean'; default: boolean }> = {};
  for (const [name, value] of Object.entries(defaults)) options[name] = { type: 'string', default: value };
  for (const name of switches) options[name] = { type: 'boolean', default: false };
  return parseArgs({ options }).values as { [K in keyof D]: string } & { [K in S]: boolean };
}

/** `--name value` for each of `names`, from parsed flags: what a comparison passes on to both sides. */
export function forward<K extends string>(values: Record<K, string>, names: readonly K[]): string[] {
  return names.flatMap((name) => [`--${name}`, values[name]]);
}

/** Runs a benchmark process to its end and returns the last JSON line it printed on stdout. */
export function runJson<T>(cmd: string, args: string[]): T {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip' }, maxBuffer: 1 << 24 });
  const line = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .at(-1);
  if (r.status !== 0 || !line) throw new Error(`${cmd} ${args.join(' ')} failed:\n${r.stderr.slice(-2000)}`);
  return JSON.parse(line) as T;
}

/**
 * A path in the team's data folder beside the checkout (../shared/data), which is not part of the repository:
 * a benchmark that needs it stops here with that said, instead of an ENOENT deep inside.
 */
export function teamData(...parts: string[]): string {
  const path = join('..', 'shared', 'data', ...parts);
  if (!existsSync(path)) {
    throw new Error(
      `${path} not found: this benchmark reads the team's data folder ../shared/data, which is not part of the repository ` +
        '(run it from the root of a checkout that has ../shared beside it). `npm test` needs none of it.',
    );
  }
  return path;
}

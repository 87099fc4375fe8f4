/**
 * Adapters and bases straight from a registry, for the commands that take `--registry URI --task T
 * [--version V]` instead of a directory: the user names a task, never a key of the store's layout.
 * Errors say what there is: an unknown task lists the tasks, an unknown version lists the versions.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AdapterManifest } from '../../shared/manifest.ts';
import type { Registry } from '../../shared/registry/index.ts';
import { ModelFileError } from './errors.ts';

/** A message lists at most this many names, then says how many more there are. */
const LISTED = 20;

function listing(names: readonly string[]): string {
  const shown = names.slice(0, LISTED).join(', ');
  return names.length > LISTED ? `${shown}, … (${names.length - LISTED} more)` : shown;
}

/** Every task with a visible version, in name order (bounded: a message needs no more). */
async function allTasks(registry: Registry, max = 1000): Promise<string[]> {
  const tasks: string[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await registry.adapters.tasks({ limit: 100, after });
    tasks.push(...page.tasks);
    if (!page.hasMore || tasks.length >= max) return tasks;
    after = page.tasks[page.tasks.length - 1];
  }
}

/** A task with no published version: the error names the tasks there are. */
async function noSuchTask(registry: Registry, task: string): Promise<ModelFileError> {
  const tasks = await allTasks(registry);
  return new ModelFileError(
    tasks.length === 0
      ? `--task ${task}: ${registry.uri} has no published adapters yet`
      : `--task ${task}: no published adapter in ${registry.uri}; its tasks: ${listing(tasks)}`,
  );
}

/** The version to use: `version` when the task has it, else the newest; throws naming what exists. */
export async function resolveVersion(registry: Registry, task: string, version?: string): Promise<string> {
  if (version === undefined) {
    // The newest with a sound manifest, as GET /adapters/<task> serves it (a corrupt one is skipped, never used).
    const { versions, manifest } = await registry.adapters.latest(task);
    if (versions.length === 0) throw await noSuchTask(registry, task);
    if (!manifest) throw new ModelFileError(`--task ${task}: every version's manifest in ${registry.uri} is unreadable`);
    return manifest.version;
  }
  const versions = await registry.adapters.versions(task);
  if (versions.length === 0) throw await noSuchTask(registry, task);
  if (!versions.includes(version))
    throw new ModelFileError(`--version ${version}: task "${task}" has no such version; its versions, newest first: ${listing(versions)}`);
  return version;
}

/** Downloads a task's version (the newest when `version` is absent) into `dir`, an adapter directory. */
export async function fetchAdapter(registry: Registry, task: string, version: string | undefined, dir: string): Promise<AdapterManifest> {
  return registry.adapters.download(task, await resolveVersion(registry, task, version), dir);
}

/** Downloads the base an adapter was trained on, checking it is the very weights the adapter names. */
export async function fetchBase(registry: Registry, manifest: AdapterManifest, dir: string): Promise<void> {
  const name = manifest.baseModel.name;
  if (!(await registry.models.exists(name))) {
    throw new ModelFileError(
      `${manifest.task} version ${manifest.version} was trained on base "${name}", which ${registry.uri} does not hold; its bases: ${listing((await registry.models.list()).map((m) => m.name)) || 'none'} (or give --base <dir>)`,
    );
  }
  await registry.models.download(name, dir);
}

/** Runs `fn` with a fresh temporary directory, removed afterwards whatever happens. */
export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The files of a directory with their sizes, in name order (what a command tells the user it wrote). */
export function filesIn(dir: string): { name: string; bytes: number }[] {
  return readdirSync(dir)
    .sort()
    .map((name) => ({ name, bytes: statSync(join(dir, name)).size }));
}

const UNITS = ['bytes', 'kB', 'MB', 'GB'];

export function formatBytes(bytes: number): string {
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < UNITS.length - 1) {
    v /= 1000;
    u++;
  }
  return u === 0 ? `${v} bytes` : `${v.toFixed(1)} ${UNITS[u]}`;
}

/** "wrote <dir>:" and one line per file with its size, aligned. */
export function describeWritten(dir: string, what: string): string {
  const files = filesIn(dir);
  const width = files.reduce((w, f) => Math.max(w, f.name.length), 0);
  const total = files.reduce((n, f) => n + f.bytes, 0);
  const lines = files.map((f) => `  ${f.name.padEnd(width)}  ${formatBytes(f.bytes).padStart(10)}`);
  return `wrote ${what} to ${dir} (${files.length} files, ${formatBytes(total)}):\n${lines.join('\n')}\n`;
}

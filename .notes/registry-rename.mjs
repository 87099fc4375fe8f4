#!/usr/bin/env node
// Rewrites the old Registry API (one class, shared/registry.ts) to the split one (shared/registry/):
//   registry.getJobSpec(id)        -> registry.jobs.spec(id)
//   this.o.registry.publishAdapter -> this.o.registry.adapters.publish
//   import ... from '../shared/registry.ts' -> '../shared/registry/index.ts'
// for every receiver (registry, reg, deps.registry, store.registry, ...): the old method names are the
// Registry's alone in this repository, so a member access by one of those names is a registry call.
// Idempotent (a second run changes nothing) and prints every line it changed.
//
//   node .notes/registry-rename.mjs [repo root, default: the working directory]

import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';

/** old method -> [store, new method]; methods absent here (list, uri, uriOf, presign*, objectState, withoutLocalPaths) are unchanged. */
const RENAMES = {
  putJobSpec: ['jobs', 'create'],
  listJobIds: ['jobs', 'listIds'],
  getJobSpec: ['jobs', 'spec'],
  putJobStatus: ['jobs', 'putStatus'],
  getJobStatus: ['jobs', 'status'],
  putJobCancel: ['jobs', 'requestCancel'],
  getJobCancel: ['jobs', 'cancelRequest'],
  putJobLaunch: ['jobs', 'putLaunch'],
  getJobLaunch: ['jobs', 'launch'],
  uploadCheckpoint: ['jobs', 'uploadCheckpoint'],
  downloadCheckpoint: ['jobs', 'downloadCheckpoint'],
  putPointStatus: ['jobs', 'putPointStatus'],
  getPointStatus: ['jobs', 'pointStatus'],
  uploadPointAdapter: ['jobs', 'uploadPointAdapter'],
  downloadPointAdapter: ['jobs', 'downloadPointAdapter'],
  nextJobEventSeq: ['jobs', 'nextEventSeq'],
  appendJobEvents: ['jobs', 'appendEvents'],
  listJobEvents: ['jobs', 'listEvents'],
  claimIdempotencyKey: ['idempotency', 'claim'],
  releaseIdempotencyKey: ['idempotency', 'release'],
  replaceIdempotencyClaim: ['idempotency', 'replace'],
  putDataset: ['datasets', 'put'],
  newDatasetUploadKey: ['datasets', 'newUploadKey'],
  putDatasetUpload: ['datasets', 'putUpload'],
  readableDatasetUri: ['datasets', 'readableUri'],
  modelExists: ['models', 'exists'],
  listModels: ['models', 'list'],
  modelWeightsBytes: ['models', 'weightsBytes'],
  downloadModel: ['models', 'download'],
  modelUri: ['models', 'uri'],
  modelFileKey: ['models', 'fileKey'],
  openModelFile: ['models', 'openFile'],
  uploadModel: ['models', 'upload'],
  publishAdapter: ['adapters', 'publish'],
  listVersions: ['adapters', 'versions'],
  newestManifest: ['adapters', 'latest'],
  findJobVersion: ['adapters', 'findJobVersion'],
  getManifest: ['adapters', 'manifest'],
  listTasks: ['adapters', 'tasks'],
  adapterFileKey: ['adapters', 'fileKey'],
  openAdapterFile: ['adapters', 'openFile'],
  downloadAdapterVersion: ['adapters', 'download'],
};
const STORES = [...new Set(Object.values(RENAMES).map(([store]) => store))];

const root = resolve(process.argv[2] ?? '.');
const OLD_MODULE = join(root, 'shared', 'registry.ts');
const NEW_MODULE = join(root, 'shared', 'registry', 'index.ts');
const SKIP_DIRS = new Set(['node_modules', '.git', 'cdk.out', '.notes', '.adapter-store']);
const SOURCE = /\.(ts|tsx|mts|mjs|js)$/;

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return SKIP_DIRS.has(name) || path === dirname(NEW_MODULE) ? [] : sourceFiles(path);
    return SOURCE.test(name) ? [path] : [];
  });
}

/** `.oldName` not followed by an identifier character, not already behind its store (`.jobs.uploadCheckpoint`). */
const METHOD = new RegExp(`(\\w*)\\.(${Object.keys(RENAMES).join('|')})(?![\\w$])`, 'g');
/** A rewritten method bound to the registry (`reg.jobs.appendEvents.bind(reg)`) is bound to its store instead. */
const BIND = new RegExp(`([\\w$.]+)\\.(${STORES.join('|')})\\.(\\w+)\\.bind\\(\\1\\)`, 'g');
/** A quoted module specifier ending in registry.ts. */
const SPECIFIER = /(['"])([^'"\n]*registry\.ts)\1/g;

function rewrite(file, text) {
  const dir = dirname(file);
  let out = text.replace(METHOD, (whole, before, old) => {
    const [store, name] = RENAMES[old];
    return before === store ? whole : `${before}.${store}.${name}`;
  });
  out = out.replace(BIND, (_, receiver, store, name) => `${receiver}.${store}.${name}.bind(${receiver}.${store})`);
  out = out.replace(SPECIFIER, (whole, quote, spec) => {
    if (!spec.startsWith('.') || resolve(dir, spec) !== OLD_MODULE) return whole;
    let next = relative(dir, NEW_MODULE).split(sep).join('/');
    if (!next.startsWith('.')) next = `./${next}`;
    return `${quote}${next}${quote}`;
  });
  // A test that checks a staged copy of the tree names the module by its path parts.
  out = out.replace(/'shared', 'registry\.ts'/g, "'shared', 'registry', 'index.ts'");
  // Comments that point readers at the old file.
  out = out.replace(/shared\/registry\.ts(?!')/g, 'shared/registry/index.ts');
  return out;
}

let changedFiles = 0;
let changedLines = 0;
for (const file of sourceFiles(root)) {
  const text = readFileSync(file, 'utf8');
  const out = rewrite(file, text);
  if (out === text) continue;
  changedFiles++;
  const before = text.split('\n');
  const after = out.split('\n');
  for (let i = 0; i < after.length; i++) {
    if (before[i] === after[i]) continue;
    changedLines++;
    console.log(`${relative(root, file)}:${i + 1}`);
    console.log(`  - ${before[i].trim()}`);
    console.log(`  + ${after[i].trim()}`);
  }
  writeFileSync(file, out);
}
console.log(`registry-rename: ${changedLines} lines in ${changedFiles} files changed${changedFiles === 0 ? ' (nothing to do)' : ''}`);

/**
 * The Python `adapters` library's (AdapterHub's) on-disk adapter layout, both ways.
 *
 * Export: the library's top-level fields of adapter_config.json (a Houlsby / DoubleSeqBn bottleneck
 * config), the adapter tensors alone (what the library's `save_adapter` writes: `pytorch_adapter.bin`, or
 * `adapter.safetensors` with `use_safetensors=True`; `load_adapter(path)` reads the one its flag names, so
 * both hold the same tensors), `head_config.json` + `pytorch_model_head.bin` / `model_head.safetensors` (a
 * one-layer classification head `heads.<task>.1.*`), `layernorms.safetensors` (trained LayerNorms: the
 * library freezes the base's and saves none) and a model card.
 *
 * A trained adapter directory keeps our `adapter.safetensors` (every trained tensor: the runtime reads it)
 * beside the library's other files; `trainer export --format adapterhub` writes the library's layout, and
 * readAdapterDir puts our tensor set back together from it (readAdapterHubParts).
 *
 * Import: an AdapterHub directory (their adapter_config.json + pytorch_adapter.bin or adapter.safetensors,
 * head files optional) becomes our AdapterDir on a given base, refusing every config the network here
 * cannot reproduce exactly.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AdapterConfig, AdapterHubBnConfig, AdapterHubFields, AdapterNonlinearity } from '../../shared/adapter-config.ts';
import type { BertConfig } from '../../shared/bert-config.ts';
import type { AdapterHubNames, ModelFamily } from '../model/families/family.ts';
import { familyOf } from '../model/families/registry.ts';
import { ModelFileError } from './errors.ts';
import { readTorchStateDict, writeTorchStateDict } from './pytorch-zip.ts';
import { type F32Tensor, readSafetensors, toFloat32, writeSafetensors } from './safetensors.ts';

/** The library release whose schema we write; a `version` also stops its loader renaming "gelu" to "gelu_new". */
export const ADAPTERHUB_VERSION = 'adapters.1.2.0';
export const ADAPTERHUB_FILES = {
  adapterBin: 'pytorch_adapter.bin',
  adapterSafetensors: 'adapter.safetensors',
  headConfig: 'head_config.json',
  headBin: 'pytorch_model_head.bin',
  headSafetensors: 'model_head.safetensors',
  layernorms: 'layernorms.safetensors',
  card: 'README.md',
} as const;

/** The adapter's family and the library's names for it, or null where the library has none (or the path is not built). */
function libraryFamily(baseConfig: BertConfig): { family: ModelFamily; hub: AdapterHubNames } | null {
  const family = familyOf(baseConfig);
  if (!family.adapterHub || !family.paths.has('export --format adapterhub')) return null;
  return { family, hub: family.adapterHub };
}

function requireLibraryFamily(baseConfig: BertConfig): { family: ModelFamily; hub: AdapterHubNames } {
  const found = libraryFamily(baseConfig);
  if (!found) throw new ModelFileError(`the adapters library has no model for ${familyOf(baseConfig).modelType} here`);
  return found;
}

/** Python's float floor division `a // b` (CPython's float_floor_div), which the library applies to reduction_factor. */
export function pyFloorDiv(a: number, b: number): number {
  let mod = a % b; // fmod, exactly as C's
  let div = (a - mod) / b;
  if (mod !== 0 && b < 0 !== mod < 0) {
    mod += b;
    div -= 1;
  }
  if (div === 0) return 0;
  let floordiv = Math.floor(div);
  if (div - floordiv > 0.5) floordiv += 1;
  return floordiv;
}

/** The bottleneck the library builds: `int(hidden // reduction_factor)`, at least 1. */
export function bottleneckFor(hidden: number, reductionFactor: number): number {
  return Math.max(1, Math.trunc(pyFloorDiv(hidden, reductionFactor)));
}

/** A reduction_factor that gives back bottleneck `m`: hidden/m as an integer when m divides hidden, else a float inside the right interval. */
export function reductionFactorFor(hidden: number, m: number): number {
  if (!Number.isInteger(m) || m < 1) throw new ModelFileError(`bottleneck must be a positive integer, got ${m}`);
  if (hidden % m === 0) return hidden / m;
  const candidates = [hidden / m, (hidden / m + hidden / (m + 1)) / 2];
  for (const r of candidates) if (bottleneckFor(hidden, r) === m) return r;
  throw new ModelFileError(`no reduction_factor gives bottleneck ${m} for hidden size ${hidden}`);
}

const TO_LIBRARY: Record<AdapterNonlinearity, string> = { gelu: 'gelu', relu: 'relu', swish: 'swish', tanh: 'tanh' };
const FROM_LIBRARY: Record<string, AdapterNonlinearity> = { gelu: 'gelu', relu: 'relu', swish: 'swish', silu: 'swish', tanh: 'tanh' };

/** The identity fields the library writes at the top of both adapter_config.json and head_config.json. */
function libraryIdentity(config: AdapterConfig, modelName?: string): Omit<AdapterHubFields, 'config'> {
  const { family, hub } = requireLibraryFamily(config.base.config);
  return {
    name: config.task,
    version: ADAPTERHUB_VERSION,
    model_type: family.modelType,
    model_name: modelName ?? config.base.name ?? family.modelType,
    model_class: hub.modelClass,
    hidden_size: config.base.config.hidden_size,
  };
}

/** The library's top-level adapter_config.json fields for an adapter-mode config (null otherwise). */
export function adapterHubFields(config: AdapterConfig, modelName?: string): AdapterHubFields | null {
  const a = config.adapter;
  // Only for families the library's files are built for: an adapter is never labelled another family's.
  if (config.mode !== 'adapter' || !a || !libraryFamily(config.base.config)) return null;
  const c = config.base.config;
  return {
    ...libraryIdentity(config, modelName),
    config: {
      mh_adapter: true,
      output_adapter: true,
      reduction_factor: reductionFactorFor(c.hidden_size, a.bottleneck),
      non_linearity: TO_LIBRARY[a.nonlinearity],
      original_ln_before: false,
      original_ln_after: true,
      residual_before_ln: true,
      adapter_residual_before_ln: false,
      ln_before: false,
      ln_after: false,
      init_weights: 'houlsby',
      leave_out: Array.from({ length: c.num_hidden_layers }, (_, l) => l).filter((l) => !a.layers.includes(l)),
    },
  };
}

export function headConfigJson(config: AdapterConfig, modelName?: string) {
  const { family, hub } = requireLibraryFamily(config.base.config);
  return {
    ...libraryIdentity(config, modelName),
    config: {
      head_type: 'classification',
      num_labels: config.labels.length,
      layers: hub.head.layers,
      activation_function: hub.head.activation,
      use_pooler: family.head.usesPooler(config.base.usesPooler),
      bias: true,
      dropout_prob: null,
      label2id: Object.fromEntries(config.labels.map((l, i) => [l, i])),
    },
  };
}

const isAdapterTensor = (name: string, task: string) => name.includes(`.adapters.${task}.`);
const isLayerNorm = (name: string) => /\.LayerNorm\.(weight|bias)$/.test(name);
/** The library's head tensor name -> ours, from the family's module indices (BERT: heads.<task>.1.* = classifier.*). */
const headToOurs = (task: string, hub: AdapterHubNames): Map<string, string> =>
  new Map(
    Object.entries(hub.head.modules).flatMap(([linear, index]) =>
      ['weight', 'bias'].map((p) => [`heads.${task}.${index}.${p}`, `${linear}.${p}`] as const),
    ),
  );

/** Our trainable tensors split into the library's three files (adapter, head) and the LayerNorms file. */
export function splitTensors(config: AdapterConfig, tensors: ReadonlyMap<string, F32Tensor>) {
  const task = config.task;
  const ours = new Map([...headToOurs(task, requireLibraryFamily(config.base.config).hub)].map(([lib, own]) => [own, lib]));
  const adapter = new Map<string, F32Tensor>();
  const head = new Map<string, F32Tensor>();
  const layernorms = new Map<string, F32Tensor>();
  for (const [name, t] of tensors) {
    const headName = ours.get(name);
    if (isAdapterTensor(name, task)) adapter.set(name, t);
    else if (headName) head.set(headName, t);
    else if (isLayerNorm(name)) layernorms.set(name, t);
    else throw new ModelFileError(`tensor "${name}" has no place in an AdapterHub adapter (only adapter mode exports)`);
  }
  return { adapter, head, layernorms };
}

/**
 * Writes the library's files beside ours in `dir` (which already holds our adapter_config.json with the
 * library's fields merged in). Adapter mode only; `card` is the README. `adapterSafetensors`: also write
 * the library's `adapter.safetensors` (the adapter tensors alone, as in `pytorch_adapter.bin`); without
 * it the caller's own `adapter.safetensors` (every trained tensor) stays.
 */
export function writeAdapterHubFiles(
  dir: string,
  config: AdapterConfig,
  tensors: ReadonlyMap<string, F32Tensor>,
  card: string,
  opts: { modelName?: string; adapterSafetensors?: boolean } = {},
): void {
  const { modelName } = opts;
  if (config.mode !== 'adapter')
    throw new ModelFileError(`AdapterHub export needs an adapter-mode adapter; this one was trained in "${config.mode}" mode`);
  const { adapter, head, layernorms } = splitTensors(config, tensors);
  if (adapter.size === 0) throw new ModelFileError(`adapter "${config.task}" has no adapter tensor to export`);
  writeTorchStateDict(join(dir, ADAPTERHUB_FILES.adapterBin), adapter);
  if (opts.adapterSafetensors) writeSafetensors(join(dir, ADAPTERHUB_FILES.adapterSafetensors), adapter, { format: 'pt' });
  writeFileSync(join(dir, ADAPTERHUB_FILES.headConfig), `${JSON.stringify(headConfigJson(config, modelName), null, 2)}\n`);
  writeTorchStateDict(join(dir, ADAPTERHUB_FILES.headBin), head);
  writeSafetensors(join(dir, ADAPTERHUB_FILES.headSafetensors), head, { format: 'pt' });
  if (layernorms.size > 0) writeSafetensors(join(dir, ADAPTERHUB_FILES.layernorms), layernorms, { format: 'pt' });
  writeFileSync(join(dir, ADAPTERHUB_FILES.card), card);
}

// ---------------------------------------------------------------------------------------------
// import

/** What the importer needs to know about the base the adapter will run on. */
export interface ImportBase {
  config: BertConfig;
  weightsSha256: string;
  hasPooler: boolean;
  name?: string;
}

/** True when an adapter_config.json is the library's (and not also ours). */
export function isAdapterHubOnly(json: Record<string, unknown>): boolean {
  return json.format === undefined && typeof json.config === 'object' && json.config !== null && 'name' in json;
}

/** The Houlsby setting of every library field the network here hard-codes (the library's defaults fill gaps). */
const REQUIRED: [keyof AdapterHubBnConfig | string, unknown, unknown][] = [
  ['mh_adapter', undefined, true],
  ['output_adapter', undefined, true],
  ['original_ln_before', false, false],
  ['original_ln_after', true, true],
  ['residual_before_ln', true, true],
  ['ln_before', false, false],
  ['ln_after', false, false],
  ['is_parallel', false, false],
  ['use_gating', false, false],
  ['phm_layer', false, false],
  ['inv_adapter', null, null],
  ['stochastic_depth', 0, 0],
];

/** Reads an AdapterHub adapter directory as our AdapterDir on `base`. */
export function readAdapterHubDir(dir: string, base: ImportBase): { config: AdapterConfig; tensors: Map<string, F32Tensor> } {
  const configPath = join(dir, 'adapter_config.json');
  const json = readJson(configPath);
  const fail = (msg: string): never => {
    throw new ModelFileError(`${configPath}: ${msg}`);
  };
  const task: string =
    typeof json.name === 'string' && /^[a-z0-9][a-z0-9_-]{0,63}$/.test(json.name)
      ? json.name
      : fail(`"name" must be 1-64 characters of a-z, 0-9, "_" or "-" (it becomes the task), got ${JSON.stringify(json.name)}`);
  if (json.model_type !== undefined && json.model_type !== 'bert')
    fail(`model_type "${String(json.model_type)}" is not supported (only bert)`);
  const cfg = base.config;
  if (json.hidden_size !== undefined && json.hidden_size !== cfg.hidden_size)
    fail(`hidden_size ${String(json.hidden_size)} does not match the base's ${cfg.hidden_size}`);
  const c = json.config as Record<string, unknown>;
  if (typeof c !== 'object' || c === null) fail('"config" must be an object (a bottleneck adapter config)');
  if (c.architecture !== undefined && c.architecture !== null && c.architecture !== 'bottleneck')
    fail(`architecture "${String(c.architecture)}" is not supported (only Houlsby bottleneck adapters)`);
  for (const [field, fallback, want] of REQUIRED) {
    const v = field in c ? c[field] : fallback;
    if (v !== want)
      fail(`config.${field} is ${JSON.stringify(v)}; only the Houlsby layout (${field} = ${JSON.stringify(want)}) is supported`);
  }
  if (c.scaling !== undefined && c.scaling !== 1 && c.scaling !== 1.0)
    fail(`config.scaling ${JSON.stringify(c.scaling)} is not supported (only 1.0)`);
  const leaveOut = c.leave_out ?? [];
  if (!Array.isArray(leaveOut) || leaveOut.some((l) => !Number.isInteger(l) || l < 0)) fail('config.leave_out must list layer indices');
  const layers = Array.from({ length: cfg.num_hidden_layers }, (_, l) => l).filter((l) => !(leaveOut as number[]).includes(l));
  if (layers.length === 0) fail('config.leave_out leaves out every layer');
  const bottleneck = bottleneckOf(c.reduction_factor, cfg.hidden_size, layers, fail);
  let act = typeof c.non_linearity === 'string' ? c.non_linearity.toLowerCase() : '';
  // The library's own rename for files without a version: old "gelu" meant the tanh approximation.
  if (json.version === undefined) act = ({ gelu: 'gelu_new', gelu_orig: 'gelu' } as Record<string, string>)[act] ?? act;
  const nonlinearity =
    FROM_LIBRARY[act] ??
    fail(
      `config.non_linearity "${String(c.non_linearity)}"${json.version === undefined ? ` (read as "${act}": the file has no "version")` : ''} is not supported; use gelu (erf), relu, swish or tanh`,
    );

  const tensors = new Map<string, F32Tensor>();
  const withPrefix = (name: string) => (name.startsWith('bert.') ? name : `bert.${name}`);
  const adapterFile = existsSync(join(dir, ADAPTERHUB_FILES.adapterBin))
    ? ADAPTERHUB_FILES.adapterBin
    : ADAPTERHUB_FILES.adapterSafetensors;
  if (!existsSync(join(dir, adapterFile))) fail(`no ${ADAPTERHUB_FILES.adapterBin} or ${ADAPTERHUB_FILES.adapterSafetensors} beside it`);
  for (const [name, t] of readTensors(join(dir, adapterFile))) {
    if (name === 'classifier.weight' || name === 'classifier.bias') continue; // our own full file: the head comes from the head files
    if (!isAdapterTensor(name, task) && !isLayerNorm(name))
      throw new ModelFileError(`${join(dir, adapterFile)}: tensor "${name}" is neither an adapter "${task}" tensor nor a LayerNorm`);
    tensors.set(withPrefix(name), t);
  }
  for (const [name, t] of readLayerNorms(dir)) tensors.set(withPrefix(name), t);
  const head = readHead(dir, task, base);
  for (const [name, t] of head.tensors) tensors.set(name, t);
  const trainLayernorms = [...tensors.keys()].some(isLayerNorm);
  const config: AdapterConfig = {
    format: 'adapter-store.adapter/v1',
    task,
    mode: 'adapter',
    adapter: { bottleneck, nonlinearity, initStd: 1e-3, layers, trainLayernorms },
    labels: head.labels,
    maxSeqLen: Math.min(128, cfg.max_position_embeddings),
    dropout: 0,
    base: {
      config: cfg,
      weightsSha256: base.weightsSha256,
      usesPooler: head.usesPooler,
      name: base.name ?? (typeof json.model_name === 'string' ? json.model_name : undefined),
    },
    parameters: { trainable: 0, total: 0 },
    createdAt: new Date().toISOString(),
    pythonAdapters: null,
  };
  return { config, tensors };
}

function bottleneckOf(rf: unknown, hidden: number, layers: number[], fail: (m: string) => never): number {
  const valid = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (valid(rf)) return bottleneckFor(hidden, rf);
  if (typeof rf === 'object' && rf !== null) {
    const map = rf as Record<string, unknown>;
    const per = layers.map((l) => map[String(l)] ?? map.default);
    if (per.some((v) => !valid(v)))
      fail('config.reduction_factor mapping needs a positive number for every adapted layer (or a "default")');
    const sizes = new Set(per.map((v) => bottleneckFor(hidden, v as number)));
    if (sizes.size > 1) fail(`config.reduction_factor gives different bottlenecks per layer (${[...sizes]}); only one size is supported`);
    return [...sizes][0];
  }
  return fail(`config.reduction_factor must be a positive number, got ${JSON.stringify(rf)}`);
}

function readHead(dir: string, task: string, base: ImportBase): { tensors: Map<string, F32Tensor>; labels: string[]; usesPooler: boolean } {
  const path = join(dir, ADAPTERHUB_FILES.headConfig);
  if (!existsSync(path)) return { tensors: new Map(), labels: [], usesPooler: base.hasPooler };
  const json = readJson(path);
  const fail = (msg: string): never => {
    throw new ModelFileError(`${path}: ${msg}`);
  };
  const c = json.config as Record<string, unknown>;
  if (typeof c !== 'object' || c === null) fail('"config" must be an object');
  if (c.head_type !== 'classification') fail(`head_type "${String(c.head_type)}" is not supported (only classification)`);
  if (c.layers !== 1) fail(`layers ${String(c.layers)} is not supported (only a single linear layer)`);
  if (c.bias === false) fail('a head without bias is not supported');
  const n = c.num_labels;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 2) fail('num_labels must be an integer >= 2');
  const usesPooler = c.use_pooler === true;
  if (usesPooler && !base.hasPooler) fail('the head reads the pooler output, but the base has no pooler');
  const label2id = (c.label2id ?? null) as Record<string, number> | null;
  const labels = Array.from({ length: n as number }, (_, i) => `LABEL_${i}`);
  if (label2id) {
    for (const [label, id] of Object.entries(label2id)) {
      if (!Number.isInteger(id) || id < 0 || id >= (n as number))
        fail(`label2id maps "${label}" to ${id}, outside 0..${(n as number) - 1}`);
      labels[id] = label;
    }
  }
  return { tensors: readHeadTensors(dir, json, task, requireLibraryFamily(base.config).hub), labels, usesPooler };
}

/** The head's weights (`heads.<name>.<index>.*` in the .bin, else the .safetensors) under our names (classifier.*). */
function readHeadTensors(dir: string, headConfig: Record<string, unknown>, task: string, hub: AdapterHubNames): Map<string, F32Tensor> {
  const fail = (msg: string): never => {
    throw new ModelFileError(`${join(dir, ADAPTERHUB_FILES.headConfig)}: ${msg}`);
  };
  const weightsName = existsSync(join(dir, ADAPTERHUB_FILES.headBin)) ? ADAPTERHUB_FILES.headBin : ADAPTERHUB_FILES.headSafetensors;
  if (!existsSync(join(dir, weightsName))) fail(`no ${ADAPTERHUB_FILES.headBin} or ${ADAPTERHUB_FILES.headSafetensors} beside it`);
  const headName = typeof headConfig.name === 'string' ? headConfig.name : task;
  const rename = headToOurs(headName, hub);
  const expected = [...rename.keys()].join(', ');
  const tensors = new Map<string, F32Tensor>();
  for (const [name, t] of readTensors(join(dir, weightsName))) {
    const ours = rename.get(name) ?? fail(`tensor "${name}" in ${weightsName} is not one of ${expected}`);
    tensors.set(ours, t);
  }
  if (tensors.size !== rename.size) fail(`${weightsName} must hold ${expected}`);
  return tensors;
}

/** layernorms.safetensors (absent: nothing), checked to hold LayerNorms only. */
function readLayerNorms(dir: string): Map<string, F32Tensor> {
  const path = join(dir, ADAPTERHUB_FILES.layernorms);
  if (!existsSync(path)) return new Map();
  const tensors = readTensors(path);
  for (const name of tensors.keys()) if (!isLayerNorm(name)) throw new ModelFileError(`${path}: tensor "${name}" is not a LayerNorm`);
  return tensors;
}

/**
 * True when `dir`'s adapter.safetensors is the library's (the adapter tensors alone: an export since the
 * split), so our tensor set is completed from the head and LayerNorm files. Our own adapter.safetensors
 * always holds the classifier an adapter-mode adapter trains.
 */
export function isAdapterHubLayout(dir: string, config: AdapterConfig, tensors: ReadonlyMap<string, unknown>): boolean {
  const [firstHead] = familyOf(config.base.config).head.params(config.base.config.hidden_size, config.labels.length);
  return config.mode === 'adapter' && !tensors.has(firstHead.name) && existsSync(join(dir, ADAPTERHUB_FILES.headConfig));
}

/** What the library's layout keeps outside adapter.safetensors, under our names: the classifier and trained LayerNorms. */
export function readAdapterHubParts(dir: string, config: AdapterConfig): Map<string, F32Tensor> {
  const parts = readLayerNorms(dir);
  const head = readHeadTensors(
    dir,
    readJson(join(dir, ADAPTERHUB_FILES.headConfig)),
    config.task,
    requireLibraryFamily(config.base.config).hub,
  );
  for (const [name, t] of head) parts.set(name, t);
  return parts;
}

function readTensors(path: string): Map<string, F32Tensor> {
  if (path.endsWith('.bin')) return readTorchStateDict(path);
  const file = readSafetensors(path);
  return new Map([...file.tensors].map(([name, raw]) => [name, { shape: raw.shape, data: toFloat32(raw, name) }]));
}

function readJson(path: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ModelFileError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ModelFileError(`${path}: must be a JSON object`);
  return v as Record<string, unknown>;
}

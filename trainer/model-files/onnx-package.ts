/**
 * `trainer export --format onnx`: an adapter and its base as a directory any onnxruntime runs without
 * this project's code: model.onnx (int64 input_ids / attention_mask / token_type_ids [batch, sequence]
 * -> float32 logits [batch, labels]), tokenizer.json (the base's tokenizer as trained with, in the Hugging
 * Face format), the base's vocab.txt, tokenizer_config.json, labels.json and a README. By default the adapter, LayerNorms and head are baked in: the training code's own
 * inference graph (buildBertGraph) with every parameter an initializer. With `adaptersAsInputs` it is the
 * serving graph (one graph for every adapter of the base) and this adapter's feeds go beside it.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { toBinary } from '@bufbuild/protobuf';
import { type ModelProto, ModelProtoSchema } from 'onnx-buf';
import { FLOAT_STORAGE_DTYPES as ONNX_DTYPES, ONNX_QUANTIZATIONS as ONNX_QUANTIZE } from '../../shared/vocabulary.ts';
import { toOnnxProto } from '../graph/onnx-export.ts';
import { quantizeGatherInt8, quantizeLinearInt8, storeFloat16 } from '../graph/onnx-weights.ts';
import { buildBertGraph } from '../model/bert.ts';
import { type ModelFamily, requirePath } from '../model/families/family.ts';
import { familyOf } from '../model/families/registry.ts';
import { type ParamSpec, parameterSpecs, specFromAdapterConfig } from '../model/params.ts';
import { buildServingGraph, packAdapters, servingVariant } from '../model/serving-graph.ts';
import { initialParameters } from '../model/weights.ts';
import { hasTokenizerFiles, tokenizerFamilyOf } from '../tokenizer/base-tokenizer.ts';
import { loadBertTokenizer } from '../tokenizer/bert-tokenizer.ts';
import { loadTokenizer } from '../tokenizer/load-tokenizer.ts';
import { Rng } from '../util/random.ts';
import { type AdapterDir, assertWritableOutput, readAdapterDir } from './adapter-dir.ts';
import { type BaseModel, loadBaseModel } from './base-model.ts';
import { ModelFileError } from './errors.ts';
import { type OnnxReadmeInput, onnxReadme } from './onnx-readme.ts';
import { writeSafetensors } from './safetensors.ts';

export const MODEL_FILE = 'model.onnx';
export const ADAPTER_INPUTS_FILE = 'adapter-inputs.safetensors';

export interface OnnxExportOptions {
  base: string;
  adapter: string;
  out: string;
  dtype?: string;
  quantize?: string;
  adaptersAsInputs?: boolean;
  /** int8: one weight scale per output channel (default) or per matrix; the benchmark compares both. */
  perChannel?: boolean;
}

/** The frozen linear weights (what int8 quantizes): 2-D base weights other than the embedding tables. */
const isFrozenLinear = (p: ParamSpec) => p.role === 'base' && !p.trainable && p.shape.length === 2 && !p.name.includes('embeddings');

/** The frozen embedding tables (int8 stores them with a scale per row; in full mode they trained and stay f32). */
const isFrozenEmbedding = (p: ParamSpec) => p.role === 'base' && !p.trainable && p.name.endsWith('_embeddings.weight');

/** Checks every option before reading anything large; throws ModelFileError with the flag named. */
function validate(o: OnnxExportOptions): void {
  if (!o.base) throw new ModelFileError('--base is required for --format onnx (the base weights go into model.onnx)');
  if (o.dtype !== undefined && !(ONNX_DTYPES as readonly string[]).includes(o.dtype))
    throw new ModelFileError(`--dtype must be one of ${ONNX_DTYPES.join(', ')}, got "${o.dtype}"`);
  if (o.quantize !== undefined && !(ONNX_QUANTIZE as readonly string[]).includes(o.quantize))
    throw new ModelFileError(`--quantize must be ${ONNX_QUANTIZE.join(', ')}, got "${o.quantize}"`);
  if (o.quantize === 'int8' && o.dtype === 'f16')
    throw new ModelFileError(
      '--quantize int8 with --dtype f16: choose one (int8 stores the frozen linear weights as int8 with float32 scales; f16 stores every weight as float16)',
    );
  assertWritableOutput(o.out);
}

/** The model bytes for an adapter on its base (exported for tests and the benchmark). */
export function buildOnnxModel(
  base: BaseModel,
  adapter: AdapterDir,
  o: Omit<OnnxExportOptions, 'base' | 'adapter' | 'out'>,
): {
  model: Uint8Array;
  adapterInputs?: Record<string, { data: Float32Array; dims: number[] }>;
} {
  const spec = specFromAdapterConfig(adapter.config);
  const specs = parameterSpecs(spec);
  const values = initialParameters(spec, specs, base, new Rng(0), { task: adapter.config.task, tensors: adapter.tensors });
  let proto: ModelProto;
  let floats: string[];
  let linears: string[];
  let embeddings: string[];
  let adapterInputs: Record<string, { data: Float32Array; dims: number[] }> | undefined;
  if (o.adaptersAsInputs) {
    const { graph, frozen } = buildServingGraph(base.config, servingVariant(adapter.config));
    proto = toOnnxProto(graph, 'bert_adapters_as_inputs', graph.outputs, {
      initializers: new Map(frozen.map((p) => [p.name, values.get(p.name)!])),
    });
    const tensors = new Map([...adapter.tensors].map(([k, t]) => [k, t.data]));
    const baseValues = new Map([...base.weights].map(([k, w]) => [k, w.data]));
    adapterInputs = packAdapters(baseValues, base.config, [{ config: adapter.config, tensors }]);
    floats = frozen.map((p) => p.name);
    linears = frozen.filter(isFrozenLinear).map((p) => p.name);
    embeddings = frozen.filter(isFrozenEmbedding).map((p) => p.name);
  } else {
    const { graph } = buildBertGraph(spec, { training: false, maskType: 'int64' });
    proto = toOnnxProto(graph, 'bert_adapter', graph.outputs, { initializers: values });
    floats = specs.map((p) => p.name);
    linears = specs.filter(isFrozenLinear).map((p) => p.name);
    embeddings = specs.filter(isFrozenEmbedding).map((p) => p.name);
  }
  if (o.quantize === 'int8') {
    quantizeLinearInt8(proto, new Set(linears), { perChannel: o.perChannel ?? true });
    quantizeGatherInt8(proto, new Set(embeddings));
  }
  if (o.dtype === 'f16') storeFloat16(proto, new Set(floats));
  return { model: toBinary(ModelProtoSchema, proto), adapterInputs };
}

/** What an export ships of the base's tokenizer: tokenizer.json, its config, files copied as they are, README prose. */
interface ExportedTokenizer {
  json: Record<string, unknown>;
  config: Record<string, unknown>;
  copied: string[];
  lowercase: boolean;
  padId: number;
  family: OnnxReadmeInput['family'];
}

const BERT_PROSE: OnnxReadmeInput['family'] = {
  name: 'BERT',
  tokenizer: 'WordPiece',
  single: '[CLS] text [SEP]',
  pair: '[CLS] text [SEP] text_pair [SEP]',
  types: 'token_type_ids 0 for the first part and 1 for the second',
};

/** The base's tokenizer as the export ships it: BERT's WordPiece as before families, else the family tokenizer's own. */
async function exportedTokenizer(dir: string, family: ModelFamily, maxSeqLen: number): Promise<ExportedTokenizer> {
  const tokFamily = tokenizerFamilyOf(family);
  const baseConfigFile = join(dir, 'tokenizer_config.json');
  const baseConfig = existsSync(baseConfigFile) ? (JSON.parse(readFileSync(baseConfigFile, 'utf8')) as Record<string, unknown>) : {};
  if (tokFamily === 'bert') {
    const tokenizer = await loadBertTokenizer(dir, { maxSeqLen });
    return {
      json: tokenizer.toTokenizerJson(),
      config: {
        ...baseConfig,
        tokenizer_class: 'BertTokenizer',
        do_lower_case: tokenizer.lowercase,
        strip_accents: tokenizer.stripAccents,
        model_max_length: maxSeqLen,
      },
      copied: existsSync(join(dir, 'vocab.txt')) ? ['vocab.txt'] : [],
      lowercase: tokenizer.lowercase,
      padId: tokenizer.padId,
      family: BERT_PROSE,
    };
  }
  const tok = await loadTokenizer(dir, { family: tokFamily, maxSeqLen });
  const s = tok.rules.special;
  const [cls, sep] = [s.cls, s.sep];
  const pair = tok.rules.template === 'double-sep' ? `${cls} text ${sep}${sep} text_pair ${sep}` : `${cls} text ${sep} text_pair ${sep}`;
  return {
    json: tok.toTokenizerJson(),
    // tokenizer.json is the whole tokenizer: PreTrainedTokenizerFast loads it with these special tokens.
    config: {
      cls_token: s.cls,
      sep_token: s.sep,
      pad_token: s.pad,
      unk_token: s.unk,
      mask_token: s.mask,
      ...baseConfig,
      tokenizer_class: 'PreTrainedTokenizerFast',
      model_max_length: maxSeqLen,
    },
    copied: [],
    lowercase: false,
    padId: tok.padId,
    family: {
      name: family.modelType,
      tokenizer: tok.format,
      single: `${cls} text ${sep}`,
      pair,
      types: tok.rules.template === 'double-sep' ? 'token_type_ids all 0' : 'token_type_ids 0 for the first part and 1 for the second',
    },
  };
}

export async function exportOnnx(o: OnnxExportOptions): Promise<void> {
  validate(o);
  const base = loadBaseModel(o.base);
  const family = familyOf(base.config);
  requirePath(family, 'export onnx');
  const adapter = readAdapterDir(o.adapter, base);
  const cfg = adapter.config;
  if (cfg.base.weightsSha256 !== base.weightsSha256) {
    throw new ModelFileError(
      `--adapter ${o.adapter} was trained on a base with weights sha256 ${cfg.base.weightsSha256}, but --base ${o.base} has ${base.weightsSha256}`,
    );
  }
  if (cfg.labels.length === 0) throw new ModelFileError(`--adapter ${o.adapter}: has no head (classifier); nothing to export`);
  if (o.adaptersAsInputs && cfg.mode === 'full') {
    throw new ModelFileError(
      `--adapters-as-inputs: --adapter ${o.adapter} was trained in full mode (every base weight changed), so it cannot run on the shared frozen base; export it without --adapters-as-inputs`,
    );
  }
  if (cfg.base.usesPooler && !base.hasPooler)
    throw new ModelFileError(`--base ${o.base}: the adapter uses the pooler, which this base lacks`);
  if (!hasTokenizerFiles(o.base, family))
    throw new ModelFileError(
      `--base ${o.base}: no ${tokenizerFamilyOf(family) === 'bert' ? 'vocab.txt or tokenizer.json' : 'tokenizer files'} to ship with the model`,
    );
  const tokenizer = await exportedTokenizer(o.base, family, cfg.maxSeqLen);

  const { model, adapterInputs } = buildOnnxModel(base, adapter, o);
  const staging = join(dirname(o.out), `.${basename(o.out)}.partial-${randomBytes(4).toString('hex')}`);
  mkdirSync(staging);
  try {
    writeFileSync(join(staging, MODEL_FILE), model);
    if (adapterInputs) {
      const tensors = new Map(Object.entries(adapterInputs).map(([k, t]) => [k, { shape: t.dims, data: t.data }]));
      writeSafetensors(join(staging, ADAPTER_INPUTS_FILE), tensors, { format: 'pt' });
    }
    // tokenizer.json says everything the training tokenizer did (normalizer, template, truncation), so
    // transformers, tokenizers and tokenizers.js tokenize alike; vocab.txt stays for tools that read only it.
    writeFileSync(join(staging, 'tokenizer.json'), `${JSON.stringify(tokenizer.json, null, 2)}\n`);
    const files = ['tokenizer.json', ...tokenizer.copied];
    for (const f of tokenizer.copied) copyFileSync(join(o.base, f), join(staging, f));
    writeFileSync(join(staging, 'tokenizer_config.json'), `${JSON.stringify(tokenizer.config, null, 2)}\n`);
    writeFileSync(join(staging, 'labels.json'), `${JSON.stringify(cfg.labels, null, 2)}\n`);
    const precision = o.quantize === 'int8' ? 'int8' : (o.dtype ?? 'f32');
    writeFileSync(
      join(staging, 'README.md'),
      onnxReadme({
        config: cfg,
        precision,
        adaptersAsInputs: o.adaptersAsInputs === true,
        adapterInputs,
        tokenizerFiles: files,
        lowercase: tokenizer.lowercase,
        padId: tokenizer.padId,
        family: tokenizer.family,
      }),
    );
    if (existsSync(o.out)) rmSync(o.out, { recursive: true }); // empty, checked above
    renameSync(staging, o.out);
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

/**
 * The model card (`README.md`) each adapter version carries, in the Hugging Face Hub's convention for
 * AdapterHub adapters: YAML front matter, then how to load it with the Python `adapters` library,
 * architecture, training and evaluation details, citation.
 */

import type { AdapterConfig } from '../../shared/adapter-config.ts';
import type { BelowMajority, MajorityBaseline } from '../../shared/majority-baseline.ts';
import { SELECTION_METRICS } from '../../shared/vocabulary.ts';
import { familyOf } from '../model/families/registry.ts';
import { ADAPTERHUB_FILES, reductionFactorFor } from './adapterhub.ts';

/** What the card reads from metrics.json (all optional: an imported or older adapter may lack them). */
interface CardMetrics {
  metric?: string;
  best?: Record<string, unknown> | null;
  trainExamples?: number;
  validationExamples?: number;
  selectedSeed?: number;
  steps?: unknown[];
  majority?: MajorityBaseline | null;
  belowMajority?: BelowMajority | null;
}

const yamlString = (s: string) => JSON.stringify(s); // a JSON string is a valid YAML scalar

export function modelCard(config: AdapterConfig, metrics: unknown, opts: { modelName?: string; hasLayernorms: boolean }): string {
  const a = config.adapter!;
  const m = (typeof metrics === 'object' && metrics !== null ? metrics : {}) as CardMetrics;
  const task = config.task;
  const family = familyOf(config.base.config);
  const base = opts.modelName ?? config.base.name ?? family.modelType;
  const head = family.adapterHub?.head;
  const headLayers = !head || head.layers === 1 ? 'one linear layer' : `${head.layers} linear layers (${head.activation} between)`;
  const headInput = family.head.usesPooler(config.base.usesPooler) ? 'pooler output' : "first token's hidden state";
  const hidden = config.base.config.hidden_size;
  const best = m.best ?? null;
  const scores = SELECTION_METRICS.filter((k) => typeof best?.[k] === 'number').map((k) => `| ${k} | ${(best![k] as number).toFixed(4)} |`);
  const lnLine = opts.hasLayernorms
    ? [
        "# The LayerNorms were trained with the adapter; the library keeps the base's, so put ours in",
        '# (without this line the logits differ from the ones this adapter was evaluated with):',
        'from safetensors.torch import load_file',
        `model.load_state_dict(load_file(f"{path}/${ADAPTERHUB_FILES.layernorms}"), strict=False)`,
      ]
    : ['# Trained with frozen LayerNorms (--train-layernorms false): nothing else to load.'];
  return [
    '---',
    'tags:',
    '  - adapter-transformers',
    '  - adapters',
    `  - ${family.modelType}`,
    '  - text-classification',
    `  - ${task}`,
    'library_name: adapter-transformers',
    `base_model: ${yamlString(base)}`,
    'datasets:',
    `  - ${yamlString(task)}`,
    'language:',
    '  - en',
    'license: apache-2.0',
    'metrics:',
    `  - ${m.metric ?? 'accuracy'}`,
    '---',
    '',
    `# Adapter \`${task}\` for \`${base}\``,
    '',
    `A Houlsby bottleneck adapter (two per layer) with a classification head for \`${task}\`, trained on a`,
    `frozen \`${base}\`. Labels in class order: ${config.labels.map((l) => `\`${l}\``).join(', ')}.`,
    '',
    '## Usage',
    '',
    'With the Python [`adapters`](https://github.com/adapter-hub/adapters) library (v1.x):',
    '',
    '```python',
    'from adapters import AutoAdapterModel',
    '',
    `path = "path/to/this/directory"`,
    `model = AutoAdapterModel.from_pretrained(${yamlString(base)})`,
    'name = model.load_adapter(path)  # adapter + its head, both named by the adapter',
    'model.set_active_adapters(name)',
    '# A base saved as BertForMaskedLM arrives with an MLM head named "default" that may be the active one:',
    "# make this adapter's head the active head.",
    'model.active_head = name',
    ...lnLine,
    'model.eval()',
    '```',
    '',
    'Then `model(**tokenizer(text, return_tensors="pt")).logits` scores the labels in the order above.',
    '',
    '## Architecture',
    '',
    `- Houlsby adapters after the attention output and after the feed-forward output of layer(s) ${a.layers.join(', ')}:`,
    `  \`h + W_up ${a.nonlinearity}(W_down h + b_down) + b_up\`, bottleneck ${a.bottleneck} (hidden ${hidden}, reduction_factor ${reductionFactorFor(hidden, a.bottleneck)}).`,
    `- Head: ${headLayers} on the ${headInput}, ${config.labels.length} labels.`,
    `- LayerNorms: ${opts.hasLayernorms ? `trained with the adapter (in \`${ADAPTERHUB_FILES.layernorms}\`)` : "frozen at the base's values"}.`,
    '',
    '## Training',
    '',
    `- Mode: adapter; dropout ${config.dropout}; max sequence length ${config.maxSeqLen}.`,
    ...(m.trainExamples !== undefined
      ? [
          `- ${m.trainExamples} training examples, ${m.validationExamples ?? 0} validation examples; selected seed ${m.selectedSeed ?? 'n/a'}.`,
        ]
      : []),
    `- Trainable parameters: ${config.parameters.trainable} of ${config.parameters.total}.`,
    '',
    '## Evaluation',
    '',
    ...(scores.length > 0
      ? ['Best validation checkpoint:', '', '| metric | value |', '|---|---|', ...scores]
      : ['No validation results were recorded.']),
    '',
    ...majorityLines(m),
    '## Citation',
    '',
    '```bibtex',
    '@inproceedings{houlsby2019parameter,',
    '  title     = {Parameter-Efficient Transfer Learning for {NLP}},',
    '  author    = {Houlsby, Neil and Giurgiu, Andrei and Jastrzebski, Stanislaw and Morrone, Bruna and de Laroussilhe, Quentin and Gesmundo, Andrea and Attariyan, Mona and Gelly, Sylvain},',
    '  booktitle = {Proceedings of the 36th International Conference on Machine Learning},',
    '  pages     = {2790--2799},',
    '  year      = {2019}',
    '}',
    '```',
    '',
  ].join('\n');
}

/** The majority-class baseline the scores above should beat, and the warning when they do not. */
function majorityLines(m: CardMetrics): string[] {
  const b = m.majority;
  if (!b) return [];
  const lines = [
    `Always answering the most frequent label, \`${b.label}\` (${(100 * b.rate).toFixed(1)} % of the validation rows), scores accuracy ${b.accuracy.toFixed(4)}, macro-F1 ${b.macroF1.toFixed(4)}, MCC ${b.mcc.toFixed(4)}.`,
    '',
  ];
  return m.belowMajority ? [...lines, `> **Warning:** ${m.belowMajority.message}.`, ''] : lines;
}

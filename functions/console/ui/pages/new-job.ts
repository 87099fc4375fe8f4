/**
 * A new fine-tune: the dataset (dropped or chosen) goes to POST /datasets, which checks every row (a
 * refused row is shown with its line number); the hyperparameter form is generated from the API's
 * OpenAPI schema and checked against its bounds; each submission carries its own Idempotency-Key, so a
 * retried click cannot start a second job.
 */
import { ApiError, call, getJson, postJson } from '../api.ts';
import { h, mount } from '../dom.ts';
import { describeField, type FieldSpec, hyperparameterFields, parseField } from '../form-schema.ts';
import { bytes } from '../format.ts';
import { hasRoute, openApi } from '../openapi.ts';
import { rowErrors } from '../row-errors.ts';
import type { BaseModel, Dataset, Job, List } from '../types.ts';
import { errorBox, pageTitle } from '../widgets.ts';

const TYPES: Record<string, string> = {
  jsonl: 'application/x-ndjson',
  ndjson: 'application/x-ndjson',
  json: 'application/x-ndjson',
  csv: 'text/csv',
  tsv: 'text/tab-separated-values',
  tab: 'text/tab-separated-values',
  gz: 'application/gzip',
};

function contentType(name: string): string {
  return TYPES[name.split('.').pop()?.toLowerCase() ?? ''] ?? 'application/octet-stream';
}

function fieldControl(f: FieldSpec): { control: HTMLElement; read: () => string } {
  const id = `hp-${f.name}`;
  const common = { id, name: f.name, 'aria-describedby': `${id}-hint ${id}-error` };
  if (f.kind === 'enum' || f.kind === 'boolean') {
    const options = f.kind === 'enum' ? (f.options ?? []) : ['true', 'false'];
    const empty = f.defaultValue === undefined ? '(default)' : `(default: ${f.defaultValue})`;
    const select = h('select', common, h('option', { value: '' }, empty), ...options.map((o) => h('option', { value: o }, o)));
    return { control: select, read: () => select.value };
  }
  const numeric = f.kind === 'integer' || f.kind === 'number';
  const input = h('input', {
    ...common,
    type: numeric ? 'number' : 'text',
    inputmode: numeric ? (f.kind === 'integer' ? 'numeric' : 'decimal') : null,
    step: numeric ? (f.kind === 'integer' ? '1' : 'any') : null,
    min: numeric && f.min !== undefined && !f.minExclusive ? f.min : null,
    max: numeric && f.max !== undefined && !f.maxExclusive ? f.max : null,
    // The default is what an empty field means, so it is what the empty field shows.
    placeholder: f.defaultValue ?? f.example ?? '',
  });
  return { control: input, read: () => input.value };
}

export function newJobPage(root: HTMLElement, go: (hash: string) => void): void {
  let dataset: Dataset | null = null;
  // One key per submission: kept across retries of the same submission, new once a job was created.
  let idempotencyKey = crypto.randomUUID();

  const file = h('input', { id: 'dataset-file', type: 'file', accept: '.jsonl,.ndjson,.json,.csv,.tsv,.tab,.gz' });
  const datasetStatus = h('div', { 'aria-live': 'polite', 'data-testid': 'dataset-status' });
  const drop = h(
    'div',
    { class: 'drop', 'data-testid': 'drop-zone' },
    h('p', {}, 'Drop a JSONL, CSV or TSV file here (a "text" and a "label" on every row), or choose one:'),
    h('label', { for: 'dataset-file' }, 'Dataset file'),
    file,
  );

  async function upload(f: File): Promise<void> {
    dataset = null;
    mount(datasetStatus, `Checking ${f.name} (${bytes(f.size)})…`);
    try {
      const res = await call(`/datasets?name=${encodeURIComponent(f.name)}`, {
        method: 'POST',
        headers: { 'content-type': contentType(f.name) },
        body: f,
      });
      dataset = (await res.json()) as Dataset;
      const labels = Object.entries(dataset.labels)
        .map(([l, n]) => `${l}: ${n}`)
        .join(', ');
      mount(
        datasetStatus,
        h('p', { class: 'ok' }, `✓ ${dataset.name}: ${dataset.rows} rows (${dataset.format}; ${labels})`),
        h('p', {}, h('code', {}, dataset.datasetUri)),
      );
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && err.problem.type?.endsWith('invalid-dataset')) {
        mount(
          datasetStatus,
          h(
            'div',
            { class: 'error', role: 'alert' },
            h('p', {}, `${f.name} was refused; nothing was stored:`),
            h(
              'ul',
              {},
              ...rowErrors(err.problem).map((e) => h('li', {}, e.line !== null ? h('strong', {}, `Line ${e.line}: `) : null, e.reason)),
            ),
          ),
        );
      } else mount(datasetStatus, errorBox(err));
    }
  }
  file.addEventListener('change', () => file.files?.[0] && void upload(file.files[0]));
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const f = e.dataTransfer?.files[0];
    if (!f) return;
    file.value = ''; // the chooser no longer names what is being checked
    void upload(f);
  });

  const task = h('input', {
    id: 'task',
    name: 'task',
    required: true,
    pattern: '[a-z0-9][a-z0-9_\\-]{0,63}',
    'aria-describedby': 'task-hint',
  });
  // The store's bases from GET /models (the default preselected); a free-text name where the API has no listing.
  const baseModel = h(
    'select',
    { id: 'base-model', name: 'baseModel', 'aria-describedby': 'base-model-hint' },
    h('option', { value: '' }, '(the deployment default)'),
  );
  const baseHint = h('small', { id: 'base-model-hint' }, 'Loading the bases…');
  const baseField = h('div', { class: 'field' }, h('label', { for: 'base-model' }, 'Base model'), baseModel, baseHint);
  let readBase = () => baseModel.value;
  void (async () => {
    if (!(await hasRoute('/models'))) {
      const input = h('input', { id: 'base-model', name: 'baseModel', placeholder: '(the deployment default)' });
      baseModel.replaceWith(input);
      readBase = () => input.value.trim();
      baseHint.textContent = 'A base model in the store; empty: the deployment default.';
      return;
    }
    const bases = (await getJson<List<BaseModel>>('/models')).data;
    mount(
      baseModel,
      // Where the deployment's default is not among them, an empty choice still leaves it to the API.
      bases.some((b) => b.default) ? null : h('option', { value: '' }, '(the deployment default)'),
      ...bases.map((b) =>
        h(
          'option',
          { value: b.name, selected: b.default },
          `${b.name}${b.layers && b.hiddenSize ? ` (${b.layers} layers × ${b.hiddenSize})` : ''}${b.default ? ' · default' : ''}`,
        ),
      ),
    );
    baseHint.textContent = `${bases.length} base${bases.length === 1 ? '' : 's'} in this store.`;
  })().catch((err: unknown) => mount(baseHint, errorBox(err)));
  const fieldset = h('fieldset', {}, h('legend', {}, 'Hyperparameters (an empty field takes the default shown)'), 'Loading the schema…');
  const result = h('div', { 'aria-live': 'polite' });
  const readers: { f: FieldSpec; read: () => string; error: HTMLElement; control: HTMLElement }[] = [];

  openApi().then(
    (doc) => {
      const fields = hyperparameterFields(doc);
      mount(
        fieldset,
        h('legend', {}, 'Hyperparameters (an empty field takes the default shown)'),
        h(
          'div',
          { class: 'grid' },
          ...fields.map((f) => {
            const { control, read } = fieldControl(f);
            const error = h('span', { id: `hp-${f.name}-error`, class: 'field-error' });
            readers.push({ f, read, error, control });
            // A corrected value clears its message at once, not at the next submit.
            control.addEventListener('input', () => {
              const parsed = parseField(f, read());
              error.textContent = parsed.ok ? '' : parsed.error;
              control.setAttribute('aria-invalid', String(!parsed.ok));
              if (readers.every((r) => r.error.textContent === '')) result.replaceChildren();
            });
            const hint = [describeField(f), f.kind.endsWith('list') ? 'comma-separated' : '', f.description ?? '']
              .filter(Boolean)
              .join('. ');
            return h(
              'div',
              { class: 'field' },
              h('label', { for: `hp-${f.name}` }, f.name),
              control,
              h('small', { id: `hp-${f.name}-hint` }, hint),
              error,
            );
          }),
        ),
      );
    },
    (err: unknown) => mount(fieldset, h('legend', {}, 'Hyperparameters'), errorBox(err)),
  );

  const submit = h('button', { type: 'submit' }, 'Start fine-tune');
  const form = h(
    'form',
    {
      novalidate: true,
      onsubmit: (e: Event) => {
        e.preventDefault();
        const hyperparameters: Record<string, unknown> = {};
        let bad = false;
        for (const r of readers) {
          const parsed = parseField(r.f, r.read());
          r.error.textContent = parsed.ok ? '' : parsed.error;
          r.control.setAttribute('aria-invalid', String(!parsed.ok));
          if (!parsed.ok) bad = true;
          else if (parsed.value !== undefined) hyperparameters[r.f.name] = parsed.value;
        }
        if (!dataset) return mount(result, errorBox(new Error('Upload a dataset first.')));
        if (!task.checkValidity())
          return mount(result, errorBox(new Error('The task name must be 1-64 characters of a-z, 0-9, "_" or "-".')));
        if (bad) return mount(result, errorBox(new Error('Some hyperparameters are out of bounds (see the fields).')));
        submit.disabled = true;
        mount(result, 'Submitting…');
        const body = {
          task: task.value.trim(),
          datasetUri: dataset.datasetUri,
          ...(readBase() ? { baseModel: readBase() } : {}),
          hyperparameters,
        };
        postJson<Job>('/finetune', body, { 'idempotency-key': idempotencyKey }).then(
          (job) => {
            idempotencyKey = crypto.randomUUID();
            go(`#/jobs/${job.jobId}`);
          },
          (err: unknown) => {
            submit.disabled = false;
            // A refused request created nothing: the next try is a new submission.
            if (err instanceof ApiError && err.status < 500 && err.status !== 409) idempotencyKey = crypto.randomUUID();
            mount(result, errorBox(err));
          },
        );
      },
    },
    h('section', { class: 'card', 'aria-labelledby': 'step-data' }, h('h2', { id: 'step-data' }, '1. Dataset'), drop, datasetStatus),
    h(
      'section',
      { class: 'card', 'aria-labelledby': 'step-job' },
      h('h2', { id: 'step-job' }, '2. Job'),
      h(
        'div',
        { class: 'field' },
        h('label', { for: 'task' }, 'Task name'),
        task,
        h('small', { id: 'task-hint' }, 'The adapter is published under this name: a-z, 0-9, "_" or "-".'),
      ),
      baseField,
      fieldset,
      submit,
      result,
    ),
  );
  mount(root, pageTitle('New fine-tune'), form);
}

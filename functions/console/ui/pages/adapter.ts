/**
 * One task: its versions, and for the chosen one (newest by default) the manifest, validation metrics,
 * the loss and learning-rate curves of metrics.json, downloads, snippets and "Try it".
 */
import { API_ROOT, download, getJson } from '../api.ts';
import { lineChart, lossChart } from '../chart.ts';
import { h, mount } from '../dom.ts';
import { bytes, num, percent, time } from '../format.ts';
import { metricsFile } from '../metrics-file.ts';
import { curlDownload, curlPredict, KEY_SETUP, KEY_VARIABLE, pythonDownload } from '../snippets.ts';
import type { AdapterDetail, Manifest, TrainMetricsFile } from '../types.ts';
import { validationChart } from '../validation-chart.ts';
import { copyable, dl, errorBox, pageTitle } from '../widgets.ts';
import { tryIt } from './try-it.ts';

function curves(m: TrainMetricsFile): HTMLElement {
  const steps = m.steps ?? [];
  return h(
    'div',
    { class: 'charts' },
    h(
      'figure',
      {},
      h('figcaption', {}, 'Training loss (smoothed; raw values faint)'),
      lossChart(
        'Training loss by step',
        steps.map((s) => ({ x: s.step, y: s.loss })),
      ),
    ),
    h('figure', {}, ...validationChart('this version', m)),
    h(
      'figure',
      {},
      h('figcaption', {}, 'Learning rate'),
      lineChart({
        title: 'Learning rate by step',
        points: steps.map((s) => ({ x: s.step, y: s.lr })),
        xLabel: 'step',
        yLabel: 'lr',
        testId: 'lr-chart',
      }),
    ),
  );
}

function manifestView(m: Manifest): { head: HTMLElement; use: HTMLElement } {
  const origin = location.origin + API_ROOT;
  const filesTable = h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      {},
      h('thead', {}, h('tr', {}, ...['File', 'Size', 'sha256', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h(
        'tbody',
        {},
        ...m.files.map((f) => {
          const status = h('span', { 'aria-live': 'polite' });
          return h(
            'tr',
            {},
            h('th', { scope: 'row' }, f.name),
            h('td', {}, bytes(f.bytes)),
            h('td', {}, h('code', { title: f.sha256, 'aria-label': f.sha256 }, `${f.sha256.slice(0, 12)}…`)),
            h(
              'td',
              {},
              h(
                'button',
                {
                  type: 'button',
                  'aria-label': `Download ${f.name}`,
                  'data-file': f.name,
                  onclick: () => {
                    status.textContent = ' downloading…';
                    download(`/adapters/${m.task}/download?version=${m.version}&file=${f.name}`, f.name).then(
                      () => (status.textContent = ' saved'),
                      (err: unknown) => (status.textContent = ` failed: ${(err as Error).message}`),
                    );
                  },
                },
                'Download',
              ),
              status,
            ),
          );
        }),
      ),
    ),
  );
  const metrics = m.metrics;
  const head = h(
    'section',
    { 'aria-labelledby': 'version-title' },
    h('h2', { id: 'version-title' }, 'Version ', h('code', {}, m.version)),
    dl([
      [
        'Base model',
        h('span', {}, m.baseModel.name, ' ', h('code', { title: 'base weights sha256' }, `${m.baseModel.weightsSha256.slice(0, 12)}…`)),
      ],
      ['Mode', m.mode],
      ['Labels', m.labels.join(', ')],
      [
        'Trainable',
        `${m.parameters.trainable.toLocaleString()} of ${m.parameters.total.toLocaleString()} parameters (${percent(m.parameters.trainable / m.parameters.total)})`,
      ],
      [
        'Validation (selected checkpoint)',
        metrics
          ? `accuracy ${num(metrics.accuracy)} · macro F1 ${num(metrics.macroF1)} · MCC ${num(metrics.mcc)} · loss ${num(metrics.loss)}`
          : 'no validation set was used',
      ],
      ['Created', time(m.createdAt)],
      ['Job', m.jobId ? h('a', { href: `#/jobs/${m.jobId}` }, m.jobId) : '—'],
    ]),
    m.belowMajority
      ? h(
          'div',
          { class: 'warning', role: 'status', 'data-testid': 'below-majority' },
          h('p', {}, h('strong', {}, 'No better than the majority class. '), m.belowMajority.message),
        )
      : null,
  );
  const use = h(
    'section',
    { 'aria-labelledby': 'files-title' },
    h('h2', { id: 'files-title' }, 'Files and snippets'),
    filesTable,
    h(
      'p',
      { 'data-testid': 'key-hint' },
      'The snippets read the API key from ',
      h('code', {}, KEY_VARIABLE),
      ', as the README’s worked example sets it: ',
      h('code', {}, KEY_SETUP),
    ),
    copyable('curl: download', curlDownload(origin, m.task, m.version)),
    copyable(
      'Python: download every file',
      pythonDownload(
        origin,
        m.task,
        m.version,
        m.files.map((f) => f.name),
      ),
    ),
    copyable('curl: predict', curlPredict(origin, m.task, m.version)),
  );
  return { head, use };
}

export function adapterPage(root: HTMLElement, task: string, version: string | undefined): void {
  const body = h('div', { 'aria-busy': 'true' }, 'Loading…');
  mount(root, h('p', { class: 'crumbs' }, h('a', { href: '#/adapters' }, 'Adapters'), ' / ', task), pageTitle(`Adapter ${task}`), body);
  (async () => {
    const detail = await getJson<AdapterDetail>(`/adapters/${task}`);
    const manifest =
      version && version !== detail.latestVersion ? await getJson<Manifest>(`/adapters/${task}/versions/${version}`) : detail.manifest;
    const chosen = manifest.version;
    const versions = h(
      'nav',
      { 'aria-label': 'Versions', class: 'versions' },
      h('h2', {}, `Versions (${detail.versions.length})`),
      h(
        'ol',
        {},
        ...detail.versions.map((v) =>
          h(
            'li',
            {},
            h('a', { href: `#/adapters/${task}/${v}`, 'aria-current': v === chosen ? 'page' : null }, h('code', {}, v)),
            v === detail.latestVersion ? ' (newest)' : '',
          ),
        ),
      ),
    );
    const curveBox = h(
      'section',
      { 'aria-labelledby': 'curves-title' },
      h('h2', { id: 'curves-title' }, 'Training curves'),
      h('p', {}, 'Loading metrics.json…'),
    );
    const tryBox = h('div');
    const view = manifestView(manifest);
    mount(body, h('div', { class: 'two-col' }, versions, h('div', {}, view.head, curveBox, tryBox, view.use)));
    body.removeAttribute('aria-busy');
    metricsFile(task, chosen).then(
      (m) => mount(curveBox, h('h2', { id: 'curves-title' }, 'Training curves'), curves(m)),
      (err: unknown) => mount(curveBox, h('h2', { id: 'curves-title' }, 'Training curves'), errorBox(err)),
    );
    tryIt(tryBox, task, chosen, manifest.labels);
  })().catch((err: unknown) => mount(body, errorBox(err)));
}

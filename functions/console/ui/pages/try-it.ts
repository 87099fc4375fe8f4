/**
 * "Try it": a text box classified by POST /adapters/:task/predict where the API has that route, and in
 * this page by the edge runtime where the app serves it (ui/edge.ts); the two answers side by side with
 * the time each took. Each probability is also in a data attribute at full precision (for scripts and tests).
 */
import { ApiError, postJson } from '../api.ts';
import { h, mount } from '../dom.ts';
import { edgeScript, predictInBrowser } from '../edge.ts';
import { hasRoute } from '../openapi.ts';
import type { Prediction } from '../types.ts';
import { errorBox } from '../widgets.ts';

function probabilities(p: Prediction, ms: number, testId: string): HTMLElement {
  const entries = Object.entries(p.probs).sort((a, b) => b[1] - a[1]);
  return h(
    'div',
    { class: 'probs', 'data-testid': testId, 'data-ms': ms.toFixed(1) },
    h('p', {}, 'Label: ', h('strong', {}, p.label), h('span', { class: 'muted' }, ` (${ms.toFixed(0)} ms)`)),
    h(
      'ul',
      {},
      ...entries.map(([label, prob]) =>
        h(
          'li',
          { 'data-label': label, 'data-prob': prob },
          h(
            'label',
            {},
            h('span', { class: 'prob-label' }, label),
            h('meter', { min: 0, max: 1, value: prob }),
            ` ${(prob * 100).toFixed(1)} %`,
          ),
        ),
      ),
    ),
  );
}

/** Runs `work`, showing progress, then its answer and how long it took, or its error. */
function timed(out: HTMLElement, busy: string, testId: string, work: () => Promise<Prediction>, onError: (err: unknown) => void): void {
  mount(out, busy);
  const t0 = performance.now();
  work().then(
    (p) => mount(out, probabilities(p, performance.now() - t0, testId)),
    (err: unknown) => onError(err),
  );
}

export function tryIt(root: HTMLElement, task: string, version: string, _labels: string[]): void {
  const edge = edgeScript() !== null;
  hasRoute('/adapters/{task}/predict').then(
    (server) => {
      if (!server && !edge) return; // nothing here can classify: no section at all
      const text = h('textarea', { id: 'try-text', rows: 3, maxlength: 2000, required: true });
      const serverBox = h('div', { class: 'try-result', 'aria-live': 'polite' }, h('h3', {}, 'On the server'));
      const serverOut = h('div');
      serverBox.append(serverOut);
      const browserBox = h('div', { class: 'try-result', 'aria-live': 'polite' }, h('h3', {}, 'In this browser'));
      const browserOut = h('div', {}, 'The first run downloads the runtime and the base model (then kept in this browser).');
      browserBox.append(browserOut);
      const classify = h('button', { type: 'submit' }, 'Classify');
      const inBrowser = h(
        'button',
        {
          type: 'button',
          onclick: () => {
            if (!text.reportValidity()) return;
            timed(
              browserOut,
              'Running in this browser…',
              'prediction-browser',
              () => predictInBrowser(task, version, text.value),
              (err) => mount(browserOut, errorBox(err)),
            );
          },
        },
        'Run in this browser',
      );
      const section = h(
        'section',
        { 'aria-labelledby': 'try-title', class: 'card' },
        h('h2', { id: 'try-title' }, 'Try it'),
        h(
          'form',
          {
            onsubmit: (e: Event) => {
              e.preventDefault();
              if (!server) return;
              timed(
                serverOut,
                'Classifying…',
                'prediction',
                async () =>
                  (
                    await postJson<{ predictions: Prediction[] }>(`/adapters/${task}/predict?version=${version}`, {
                      inputs: [text.value],
                    })
                  ).predictions[0],
                (err) => {
                  // 501: this deployment has the route but serves no predictions (no runtime).
                  if (err instanceof ApiError && (err.status === 501 || err.noRoute)) {
                    if (!edge) section.remove();
                    classify.remove();
                    serverBox.remove();
                  } else mount(serverOut, errorBox(err));
                },
              );
            },
          },
          h('label', { for: 'try-text' }, 'Text to classify'),
          text,
          h('div', { class: 'actions' }, server && classify, edge && inBrowser),
        ),
        h('div', { class: 'try-results' }, server && serverBox, edge && browserBox),
      );
      mount(root, section);
    },
    () => {},
  );
}

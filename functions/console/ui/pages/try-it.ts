/** "Try it": a text box classified by POST /adapters/:task/predict, shown only where the API has that route. */
import { ApiError, postJson } from '../api.ts';
import { h, mount } from '../dom.ts';
import { hasRoute } from '../openapi.ts';
import type { Prediction } from '../types.ts';
import { errorBox } from '../widgets.ts';

function probabilities(p: Prediction): HTMLElement {
  const entries = Object.entries(p.probs).sort((a, b) => b[1] - a[1]);
  return h(
    'div',
    { class: 'probs', 'data-testid': 'prediction' },
    h('p', {}, 'Label: ', h('strong', {}, p.label)),
    h(
      'ul',
      {},
      ...entries.map(([label, prob]) =>
        h(
          'li',
          {},
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

export function tryIt(root: HTMLElement, task: string, version: string, _labels: string[]): void {
  hasRoute('/adapters/{task}/predict').then(
    (exists) => {
      if (!exists) return; // this API does not serve predictions: no section at all
      const text = h('textarea', { id: 'try-text', rows: 3, maxlength: 2000, required: true });
      const out = h('div', { 'aria-live': 'polite' });
      const section = h(
        'section',
        { 'aria-labelledby': 'try-title', class: 'card' },
        h('h2', { id: 'try-title' }, 'Try it'),
        h(
          'form',
          {
            onsubmit: (e: Event) => {
              e.preventDefault();
              mount(out, 'Classifying…');
              postJson<{ predictions: Prediction[] }>(`/adapters/${task}/predict?version=${version}`, { inputs: [text.value] }).then(
                (r) => mount(out, probabilities(r.predictions[0])),
                (err: unknown) => {
                  // 501: this deployment has the route but serves no predictions (no runtime): hide it.
                  if (err instanceof ApiError && (err.status === 501 || err.noRoute)) section.remove();
                  else mount(out, errorBox(err));
                },
              );
            },
          },
          h('label', { for: 'try-text' }, 'Text to classify'),
          text,
          h('button', { type: 'submit' }, 'Classify'),
        ),
        out,
      );
      mount(root, section);
    },
    () => {},
  );
}

/** Pieces the pages share: error boxes, copyable code, definition lists, page titles. */
import { ApiError } from './api.ts';
import { h } from './dom.ts';

/** An error as an alert (role=alert: screen readers announce it). */
export function errorBox(err: unknown): HTMLElement {
  const message = err instanceof Error ? err.message : String(err);
  const params = err instanceof ApiError ? (err.problem['invalid-params'] ?? []) : [];
  return h(
    'div',
    { class: 'error', role: 'alert' },
    h('p', {}, message),
    params.length > 0 ? h('ul', {}, ...params.map((p) => h('li', {}, h('code', {}, p.name), ': ', p.reason))) : null,
  );
}

export function pageTitle(text: string): HTMLElement {
  document.title = `${text} · Adapter store`;
  return h('h1', { tabindex: '-1', id: 'page-title' }, text);
}

export function dl(rows: [string, Node | string][]): HTMLElement {
  return h('dl', { class: 'facts' }, ...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
}

/** A code block with a button that copies it. */
export function copyable(label: string, code: string): HTMLElement {
  const status = h('span', { class: 'copied', 'aria-live': 'polite' });
  return h(
    'figure',
    { class: 'snippet' },
    h(
      'figcaption',
      {},
      label,
      ' ',
      h(
        'button',
        {
          type: 'button',
          'aria-label': `Copy ${label}`,
          onclick: () => {
            void navigator.clipboard.writeText(code).then(
              () => (status.textContent = 'copied'),
              () => (status.textContent = 'select the text to copy it'),
            );
          },
        },
        'Copy',
      ),
      status,
    ),
    h('pre', {}, h('code', {}, code)),
  );
}

export function statusBadge(status: string): HTMLElement {
  return h('span', { class: `badge ${status}` }, status);
}

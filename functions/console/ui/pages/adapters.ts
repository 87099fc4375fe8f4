/** Tasks with their newest version, a page at a time. */
import { getJson } from '../api.ts';
import { h, mount } from '../dom.ts';
import { time } from '../format.ts';
import type { AdapterSummary, List } from '../types.ts';
import { errorBox, pageTitle } from '../widgets.ts';

export function adaptersPage(root: HTMLElement, query: URLSearchParams): void {
  const after = query.get('after');
  const body = h('div', { 'aria-busy': 'true' }, 'Loading…');
  mount(root, pageTitle('Adapters'), body);
  getJson<List<AdapterSummary>>(`/adapters?limit=25${after ? `&after=${encodeURIComponent(after)}` : ''}`).then(
    (list) => {
      if (list.data.length === 0 && !after) {
        mount(body, h('p', {}, 'No adapter yet. ', h('a', { href: '#/new' }, 'Start a fine-tune'), ' to train one.'));
        return;
      }
      mount(
        body,
        h(
          'div',
          { class: 'scroll' },
          h(
            'table',
            {},
            h('caption', { class: 'sr-only' }, 'Adapters'),
            h(
              'thead',
              {},
              h(
                'tr',
                {},
                ...['Task', 'Newest version', 'Base model', 'Mode', 'Labels', 'Created'].map((c) => h('th', { scope: 'col' }, c)),
              ),
            ),
            h(
              'tbody',
              {},
              ...list.data.map((a) =>
                h(
                  'tr',
                  {},
                  h('th', { scope: 'row' }, h('a', { href: `#/adapters/${a.task}` }, a.task)),
                  h('td', {}, h('code', {}, a.latestVersion)),
                  h('td', {}, a.baseModel),
                  h('td', {}, a.mode),
                  h('td', {}, a.labels.join(', ')),
                  h('td', {}, time(a.createdAt)),
                ),
              ),
            ),
          ),
        ),
        h(
          'nav',
          { class: 'pager', 'aria-label': 'Pages' },
          after ? h('a', { href: '#/adapters' }, 'First page') : null,
          list.hasMore && list.nextCursor ? h('a', { href: `#/adapters?after=${encodeURIComponent(list.nextCursor)}` }, 'Next page') : null,
        ),
      );
      body.removeAttribute('aria-busy');
    },
    (err: unknown) => mount(body, errorBox(err)),
  );
}

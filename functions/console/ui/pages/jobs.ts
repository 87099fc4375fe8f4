/** Fine-tune jobs, newest first, a page at a time (the API's `after` cursor). */

import { isFinal } from '../../../../shared/job-lifecycle.ts';
import { getJson } from '../api.ts';
import { h, mount } from '../dom.ts';
import { time } from '../format.ts';
import { sweepProgress } from '../job-summary.ts';
import type { Job, List } from '../types.ts';
import { errorBox, pageTitle, statusBadge } from '../widgets.ts';

export function jobsPage(root: HTMLElement, query: URLSearchParams): void {
  const after = query.get('after');
  const body = h('div', { 'aria-busy': 'true' }, 'Loading…');
  mount(root, pageTitle('Fine-tune jobs'), h('p', {}, h('a', { href: '#/new', class: 'button' }, 'New fine-tune')), body);
  getJson<List<Job>>(`/finetune?limit=20${after ? `&after=${encodeURIComponent(after)}` : ''}`).then(
    (list) => {
      body.removeAttribute('aria-busy');
      if (list.data.length === 0 && !after) return mount(body, h('p', {}, 'No job yet.'));
      mount(
        body,
        h(
          'div',
          { class: 'scroll' },
          h(
            'table',
            {},
            h('caption', { class: 'sr-only' }, 'Jobs'),
            h('thead', {}, h('tr', {}, ...['Job', 'Task', 'Status', 'Progress', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
            h(
              'tbody',
              {},
              ...list.data.map((j) =>
                h(
                  'tr',
                  {},
                  h('th', { scope: 'row' }, h('a', { href: `#/jobs/${j.jobId}` }, h('code', {}, j.jobId))),
                  h('td', {}, j.task),
                  h(
                    'td',
                    {},
                    statusBadge(j.status),
                    j.belowMajority ? [' ', h('span', { class: 'badge warn', title: j.belowMajority.message }, 'below majority')] : null,
                  ),
                  h(
                    'td',
                    {},
                    h('progress', { max: 1, value: j.progress.fraction, 'aria-label': `progress of ${j.jobId}` }),
                    // A sweep counts points (its steps sum over points that run one after another).
                    j.sweep
                      ? ` ${sweepProgress(j.sweep.points, j.startedAt ? Date.parse(j.startedAt) : null, Date.now(), !isFinal(j.status))}`
                      : ` ${Math.round(j.progress.fraction * 100)} %`,
                  ),
                  h('td', {}, time(j.createdAt)),
                ),
              ),
            ),
          ),
        ),
        h(
          'nav',
          { class: 'pager', 'aria-label': 'Pages' },
          after ? h('a', { href: '#/jobs' }, 'Newest') : null,
          list.hasMore && list.nextCursor ? h('a', { href: `#/jobs?after=${encodeURIComponent(list.nextCursor)}` }, 'Older') : null,
        ),
      );
    },
    (err: unknown) => mount(body, errorBox(err)),
  );
}

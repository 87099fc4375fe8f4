/**
 * One job, live: status, progress, the loss curve and events, polled (polling works everywhere,
 * Lambda included) until the job ends; then the curve of its published metrics.json.
 */

import { isFinal } from '../../../../shared/job-lifecycle.ts';
import { call, getJson } from '../api.ts';
import { lossChart } from '../chart.ts';
import type { Point } from '../chart-geometry.ts';
import { h, mount } from '../dom.ts';
import { num, time } from '../format.ts';
import { lossPoints } from '../job-events.ts';
import { scoreRows, sweepProgress } from '../job-summary.ts';
import { metricsFile } from '../metrics-file.ts';
import { hasRoute } from '../openapi.ts';
import type { Job, JobEvent, List, Sweep, TrainMetricsFile } from '../types.ts';
import { validationChart } from '../validation-chart.ts';
import { dl, errorBox, pageTitle, statusBadge } from '../widgets.ts';

const POLL_MS = 1000;

export function jobPage(root: HTMLElement, jobId: string): () => void {
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const events: JobEvent[] = [];
  let cursor: string | null = null;
  // Where the API has no events route, the curve is sampled from the job's status instead.
  let eventsRoute: boolean | null = null;
  // Without the events route: one point per poll from the job's own step and loss.
  const polled: Point[] = [];
  let finalCurve: Point[] | null = null;
  // The published metrics.json, once the job succeeded: every step, every evaluation, the selected checkpoint.
  let published: TrainMetricsFile | null = null;

  const summary = h('div', { 'aria-live': 'polite' });
  // The latest failure only (a poll that keeps failing must not pile up messages).
  const problem = h('div');
  const chartBox = h('figure', { class: 'chart-box' });
  const validationBox = h('figure', { class: 'chart-box' });
  const sweepBox = h('div');
  const eventList = h('ol', { class: 'events', 'aria-label': 'Events' });
  mount(
    root,
    h('p', { class: 'crumbs' }, h('a', { href: '#/jobs' }, 'Jobs'), ' / ', jobId),
    pageTitle(`Job ${jobId}`),
    summary,
    problem,
    sweepBox,
    h(
      'section',
      { 'aria-labelledby': 'loss-title' },
      h('h2', { id: 'loss-title' }, 'Training loss and validation'),
      h('div', { class: 'charts' }, chartBox, validationBox),
    ),
    h('section', { 'aria-labelledby': 'events-title' }, h('h2', { id: 'events-title' }, 'Events'), eventList),
  );

  async function pollEvents(): Promise<void> {
    eventsRoute ??= await hasRoute('/finetune/{jobId}/events');
    if (!eventsRoute) return;
    for (;;) {
      const page: List<JobEvent> = await getJson<List<JobEvent>>(
        `/finetune/${jobId}/events?limit=100${cursor ? `&after=${encodeURIComponent(cursor)}` : ''}`,
      );
      events.push(...page.data);
      cursor = page.data.at(-1)?.id ?? cursor;
      if (!page.hasMore || page.data.length === 0) return;
    }
  }

  function render(job: Job): void {
    const active = !isFinal(job.status);
    mount(
      summary,
      dl([
        ['Status', statusBadge(job.status)],
        [
          'Progress',
          h(
            'span',
            {},
            h('progress', { max: 1, value: job.progress.fraction, 'aria-label': 'Progress', 'data-testid': 'progress' }),
            h(
              'span',
              { 'data-testid': 'progress-text' },
              job.sweep
                ? ` ${sweepProgress(job.sweep.points, job.startedAt ? Date.parse(job.startedAt) : null, Date.now(), active)}`
                : ` ${job.progress.step} / ${job.progress.totalSteps || '?'} steps (${Math.round(job.progress.fraction * 100)} %)`,
            ),
          ),
        ],
        ['Task', job.task],
        ['Base model', job.baseModel],
        ['Training loss', num(job.loss)],
        ...validationRows(job, published),
        ['Created', time(job.createdAt)],
        ['Finished', time(job.finishedAt)],
        ['Hyperparameters', h('code', {}, JSON.stringify(job.hyperparameters))],
      ]),
      job.error ? h('div', { class: 'error', role: 'alert' }, h('p', {}, job.error.message)) : null,
      job.waiting ? h('p', { class: 'muted' }, h('strong', {}, 'Waiting: '), job.waiting.reason) : null,
      job.belowMajority
        ? h(
            'div',
            { class: 'warning', role: 'status', 'data-testid': 'below-majority' },
            h('p', {}, h('strong', {}, 'No better than the majority class. '), job.belowMajority.message),
          )
        : null,
      job.adapterVersion
        ? h(
            'p',
            {},
            'Published: ',
            h(
              'a',
              { href: `#/adapters/${job.task}/${job.adapterVersion}`, 'data-testid': 'adapter-link' },
              `${job.task} ${job.adapterVersion}`,
            ),
          )
        : null,
      active
        ? h(
            'button',
            {
              type: 'button',
              class: 'danger',
              onclick: (e: Event) => {
                (e.currentTarget as HTMLButtonElement).disabled = true;
                call(`/finetune/${jobId}/cancel`, { method: 'POST' }).then(
                  () => {
                    clearTimeout(timer); // one poll loop: this tick replaces the pending one
                    void tick();
                  },
                  (err: unknown) => mount(problem, errorBox(err)),
                );
              },
            },
            'Cancel job',
          )
        : null,
    );
    if (job.sweep) mount(sweepBox, sweepTable(job.sweep));
    const points = finalCurve ?? (eventsRoute ? lossPoints(events) : polled);
    mount(chartBox, h('figcaption', {}, 'Training loss (smoothed; raw values faint)'), lossChart(`Training loss of ${jobId}`, points));
    chartBox.dataset.final = finalCurve ? 'true' : 'false';
    mount(validationBox, ...validationChart(jobId, published, events));
    mount(
      eventList,
      ...(eventsRoute ? events.slice(-200).reverse() : []).map((e) =>
        h('li', { class: e.level }, h('time', { datetime: e.createdAt }, time(e.createdAt)), ' ', h('strong', {}, e.type), ' ', e.message),
      ),
    );
    if (!eventsRoute) eventList.replaceChildren(h('li', {}, 'This API has no events route; the curve is sampled from the job status.'));
  }

  // One poll at a time: a tick asked for while one is in flight is left to that one's next poll.
  let busy = false;
  let pollsAfterDone = 0;
  async function tick(): Promise<void> {
    if (stopped || busy) return;
    busy = true;
    try {
      const job = await getJson<Job>(`/finetune/${jobId}`);
      await pollEvents();
      if (job.loss !== null && job.progress.step > 0 && polled.at(-1)?.x !== job.progress.step)
        polled.push({ x: job.progress.step, y: job.loss });
      const done = isFinal(job.status);
      if (done && job.adapterVersion && !finalCurve) {
        // The published curve has every step; the live one was sampled.
        published = await metricsFile(job.task, job.adapterVersion).catch(() => null);
        finalCurve = published?.steps?.map((s) => ({ x: s.step, y: s.loss })) ?? null;
      }
      if (stopped) return;
      problem.replaceChildren();
      render(job);
      // The final event may land just after the status: poll a little longer for it.
      const logged = done && (!eventsRoute || events.some((e) => isFinal(e.type)) || ++pollsAfterDone > 10);
      if (!logged) timer = setTimeout(tick, POLL_MS);
    } catch (err) {
      if (stopped) return;
      mount(problem, errorBox(err));
      timer = setTimeout(tick, POLL_MS * 5);
    } finally {
      busy = false;
    }
  }
  void tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}

/** The job's validation scores, each labelled final or selected (see job-summary.ts). */
function validationRows(job: Job, published: TrainMetricsFile | null): [string, Node | string][] {
  // A sweep's job metrics are its published point's best, not a final evaluation of anything.
  const final = job.sweep && published?.best ? null : job.metrics;
  const rows = scoreRows(final, published?.best ?? null, published?.best?.step);
  if (rows.length === 0) return [['Validation', '—']];
  return rows.map((r) => [
    r.label,
    h(
      'span',
      { 'data-testid': `validation-${r.which}`, 'data-accuracy': r.metrics.accuracy },
      `accuracy ${num(r.metrics.accuracy)}, macro F1 ${num(r.metrics.macroF1)}, MCC ${num(r.metrics.mcc)}, loss ${num(r.metrics.loss)}`,
    ),
  ]);
}

/** A sweep's points: each one's settings, state, progress and score; the published one marked. */
function sweepTable(sweep: Sweep): HTMLElement {
  const keys = Object.keys(sweep.points[0]?.settings ?? {});
  return h(
    'section',
    { 'aria-labelledby': 'sweep-title' },
    h('h2', { id: 'sweep-title' }, `Sweep: ${sweep.points.length} points, best on validation ${sweep.metric}`),
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        { 'data-testid': 'sweep-points' },
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            h('th', {}, '#'),
            ...keys.map((k) => h('th', {}, k)),
            h('th', {}, 'status'),
            h('th', {}, 'progress'),
            h('th', {}, sweep.metric),
          ),
        ),
        h(
          'tbody',
          {},
          ...sweep.points.map((p) =>
            h(
              'tr',
              p.point === sweep.bestPoint ? { class: 'best', 'aria-label': `point ${p.point}, published` } : {},
              h('td', {}, String(p.point)),
              ...keys.map((k) => h('td', {}, String(p.settings[k]))),
              h('td', {}, statusBadge(p.status), p.error ? h('span', { class: 'error' }, ` ${p.error.message}`) : null),
              h('td', {}, h('progress', { max: 1, value: p.progress.fraction, 'aria-label': `Progress of point ${p.point}` })),
              h('td', {}, p.score === null ? '—' : `${num(p.score)}${p.point === sweep.bestPoint ? ' ★' : ''}`),
            ),
          ),
        ),
      ),
    ),
  );
}

/** The console's entry: the layout, the sign-in gate and a hash router over the pages. */
import { clearKey, getKey, whenUnauthorized } from './api.ts';
import { h, mount } from './dom.ts';
import { adapterPage } from './pages/adapter.ts';
import { adaptersPage } from './pages/adapters.ts';
import { jobPage } from './pages/job.ts';
import { jobsPage } from './pages/jobs.ts';
import { newJobPage } from './pages/new-job.ts';
import { signInPage } from './pages/sign-in.ts';

const main = h('main', { id: 'main' });
const links: [string, string][] = [
  ['#/adapters', 'Adapters'],
  ['#/jobs', 'Jobs'],
  ['#/new', 'New fine-tune'],
];
const nav = h('nav', { 'aria-label': 'Console' }, h('ul', {}, ...links.map(([href, text]) => h('li', {}, h('a', { href }, text)))));
const signOut = h(
  'button',
  {
    type: 'button',
    class: 'link',
    onclick: () => {
      clearKey();
      route();
    },
  },
  'Sign out',
);
mount(
  document.body,
  h('a', { href: '#main', class: 'skip' }, 'Skip to content'),
  h('header', {}, h('a', { href: '#/adapters', class: 'brand' }, 'Adapter store'), nav, signOut),
  main,
);

let stop: (() => void) | undefined;
/** On the sign-in form, a refused key is its own message there, not a reload of the form. */
let signingIn = false;

function go(hash: string): void {
  location.hash = hash;
}

function route(): void {
  stop?.();
  stop = undefined;
  const signedIn = getKey() !== null;
  nav.hidden = !signedIn;
  signOut.hidden = !signedIn;
  signingIn = !signedIn;
  if (!signedIn) {
    signInPage(main, route); // (it focuses the key field)
    return;
  }
  const [path, q] = (location.hash.replace(/^#/, '') || '/adapters').split('?');
  const query = new URLSearchParams(q ?? '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  for (const a of nav.querySelectorAll('a')) {
    if (a.getAttribute('href') === `#/${parts[0]}`) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (parts[0] === 'adapters' && parts[1]) adapterPage(main, parts[1], parts[2]);
  else if (parts[0] === 'jobs' && parts[1]) stop = jobPage(main, parts[1]);
  else if (parts[0] === 'jobs') jobsPage(main, query);
  else if (parts[0] === 'new') newJobPage(main, go);
  else adaptersPage(main, query);
  // Keyboard and screen-reader users land on the new page's heading.
  main.querySelector<HTMLElement>('h1')?.focus({ preventScroll: true });
}

whenUnauthorized(() => signingIn || route());
window.addEventListener('hashchange', route);
route();

/** The key is asked for once per tab and checked against the API before it is kept. */
import { ApiError, clearKey, getJson, setKey } from '../api.ts';
import { h, mount } from '../dom.ts';
import { errorBox, pageTitle } from '../widgets.ts';

export function signInPage(root: HTMLElement, done: () => void): void {
  const input = h('input', { id: 'api-key', name: 'api-key', type: 'password', autocomplete: 'off', required: true });
  const message = h('div');
  const form = h(
    'form',
    {
      class: 'card narrow',
      onsubmit: (e: Event) => {
        e.preventDefault();
        setKey(input.value.trim());
        getJson('/adapters?limit=1').then(done, (err: unknown) => {
          clearKey();
          mount(message, errorBox(err instanceof ApiError && err.status === 401 ? new Error('That key is not valid here.') : err));
          input.focus();
        });
      },
    },
    pageTitle('Sign in'),
    h('p', {}, 'Enter an API key of this store. It is kept for this tab only (sessionStorage) and sent as a bearer token.'),
    h('label', { for: 'api-key' }, 'API key'),
    input,
    h('button', { type: 'submit' }, 'Sign in'),
    message,
  );
  mount(root, form);
  input.focus();
}

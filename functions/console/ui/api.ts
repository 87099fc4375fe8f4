/**
 * Calls to the store's API: the key entered once is kept in sessionStorage (gone when the tab closes)
 * and sent as a bearer token on every call; errors are the API's problem+json documents.
 */

const KEY_ITEM = 'adapter-store.api-key';

/** The API's root: the console is served at <root>/console (a stage or path prefix is kept). */
export const API_ROOT = location.pathname.replace(/\/console\/?$/, '');

export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  'invalid-params'?: { name: string; reason: string }[];
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem,
  ) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
  }

  /** A 404 for a route this server does not have (not for a missing job or task). */
  get noRoute(): boolean {
    return this.status === 404 && /^no route /.test(this.problem.detail ?? '');
  }
}

export const getKey = (): string | null => sessionStorage.getItem(KEY_ITEM);
export const setKey = (key: string): void => sessionStorage.setItem(KEY_ITEM, key);
export const clearKey = (): void => sessionStorage.removeItem(KEY_ITEM);

/** Called when the API refuses the key (main.ts shows the sign-in form again). */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

/** A fetch with the key; throws ApiError for any answer but 2xx. */
export async function call(path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${getKey() ?? ''}`);
  const res = await fetch(API_ROOT + path, { ...init, headers });
  if (res.ok) return res;
  let problem: Problem = { status: res.status, title: res.statusText };
  try {
    problem = (await res.json()) as Problem;
  } catch {
    // not a problem document: keep the status line
  }
  if (res.status === 401) {
    clearKey();
    onUnauthorized();
  }
  throw new ApiError(res.status, problem);
}

export async function getJson<T>(path: string): Promise<T> {
  return (await (await call(path)).json()) as T;
}

export async function postJson<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await call(path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return (await res.json()) as T;
}

/** Saves a file the API answers (it needs the key, so a plain link cannot fetch it). */
export async function download(path: string, filename: string): Promise<void> {
  const blob = await (await call(path)).blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

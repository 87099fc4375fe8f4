/**
 * Bearer-key auth. Keys come from configuration: a fixed list, or a KeySource re-read while the process
 * runs (key rotation); every candidate is compared in constant time (over fixed-length digests, so
 * neither the key's content nor its length leaks through timing).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import type { KeySource } from './key-source.ts';
import { ProblemError } from './problem.ts';
import type { RouteClock } from './route-trace.ts';

const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function bearerAuth(
  apiKeys: readonly string[] | KeySource,
  opts: { public: readonly string[]; clock?: RouteClock },
): MiddlewareHandler {
  const digests = (list: readonly string[]) => list.filter((k) => k.length > 0).map(digest);
  const fixed = typeof apiKeys === 'function' ? null : digests(apiKeys);
  // Digests of the source's current list, recomputed only when the list object changes.
  let seen: readonly string[] | null = null;
  let current: Buffer[] = [];
  const keysNow = async (): Promise<Buffer[]> => {
    if (fixed) return fixed;
    const list = await (apiKeys as KeySource)();
    if (list !== seen) {
      seen = list;
      current = digests(list);
    }
    return current;
  };
  return async (c, next) => {
    if (opts.public.includes(c.req.path)) return next();
    const keys = await keysNow();
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const challenge = { 'www-authenticate': 'Bearer realm="adapter-store"' };
    if (!m) throw new ProblemError(401, 'unauthorized', 'this route needs an "Authorization: Bearer <key>" header', [], challenge);
    const given = digest(m[1]);
    let ok = false;
    for (const k of keys) ok = timingSafeEqual(k, given) || ok; // no early exit
    if (!ok)
      throw new ProblemError(401, 'unauthorized', 'the bearer key is not valid', [], {
        ...challenge,
        'www-authenticate': 'Bearer realm="adapter-store", error="invalid_token"',
      });
    opts.clock?.mark(c, 'auth');
    return next();
  };
}

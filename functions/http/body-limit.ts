/**
 * Request body limit. GET and HEAD pass (no route here takes a body with them). A request that declares its
 * length (Content-Length, no Transfer-Encoding: Node's HTTP parser holds the body to that length) is judged by
 * the header alone and its body left untouched; only the others are counted as they stream, by Hono's bodyLimit. Why not Hono's for all: it reads
 * `c.req.raw.body`, which on @hono/node-server turns the lightweight request into a full fetch Request
 * with a web stream over the socket (~0.3 ms a request on 2 shared cores), where the route's own
 * `c.req.json()` reads the body straight off the socket when nothing asked for the stream first.
 */
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';

export function declaredBodyLimit(maxSize: number, tooLarge: () => never): MiddlewareHandler {
  const streamed = bodyLimit({ maxSize, onError: tooLarge });
  return (c, next) => {
    // GET and HEAD take no body here: counting one would build that whole fetch Request for nothing.
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const declared = c.req.header('content-length');
    if (declared === undefined || c.req.header('transfer-encoding') !== undefined) return streamed(c, next);
    // As Hono's: a length that does not parse is not over the limit (Node's parser refuses such requests first).
    return Number.parseInt(declared, 10) > maxSize ? tooLarge() : next();
  };
}

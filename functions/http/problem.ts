/**
 * Errors as RFC 9457 problem details (`application/problem+json`). Handlers throw `ProblemError`;
 * the app's error handler renders it, so a handler's return type only ever describes success.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { ZodError } from 'zod';
import type { Problem } from '../schemas.ts';

export interface InvalidParam {
  name: string;
  reason: string;
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
};

export class ProblemError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    /** A short code, rendered as the problem type `urn:adapter-store:problem:<code>`. */
    readonly code: string,
    detail: string,
    readonly invalidParams: InvalidParam[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(detail);
  }
}

export function problemBody(status: number, code: string, detail: string, instance: string, invalidParams: InvalidParam[] = []): Problem {
  const body: Problem = { type: `urn:adapter-store:problem:${code}`, title: TITLES[status] ?? 'Error', status, detail, instance };
  if (invalidParams.length > 0) body['invalid-params'] = invalidParams;
  return body;
}

export function problemResponse(c: Context, err: ProblemError): Response {
  const body = problemBody(err.status, err.code, err.message, new URL(c.req.url).pathname, err.invalidParams);
  return new Response(JSON.stringify(body), {
    status: err.status,
    headers: { 'content-type': 'application/problem+json', ...err.headers },
  });
}

/** Zod issues as `invalid-params`, each named by its dotted path (`hyperparameters.epochs`). */
export function invalidParamsFromZod(error: ZodError, prefix = ''): InvalidParam[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    // An unknown key is reported on its parent; name the key itself, which is the field at fault.
    const keys = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const names = keys.length > 0 ? keys.map((k) => [...path, k].join('.')) : [path.join('.')];
    return names.map((n) => ({ name: prefix && n ? `${prefix}.${n}` : prefix || n || '(body)', reason: issue.message }));
  });
}

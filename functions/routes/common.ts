import { ProblemSchema } from '../schemas.ts';

const DESCRIPTIONS: Record<number, string> = {
  400: 'The request is malformed or a field is out of bounds (`invalid-params` names it).',
  401: 'Missing or wrong bearer key.',
  404: 'No such resource.',
  409: "Conflicts with the resource's state or an earlier request.",
  413: 'The request body is too large.',
  415: 'The request body is not JSON.',
  422: 'Well-formed but refused by this deployment (bucket not allowed, unknown base model).',
  429: 'Over a limit of this deployment (checks at once, jobs per key, queue length); `Retry-After` says when to retry.',
  502: 'The job launcher failed.',
};

/** OpenAPI responses for the given problem statuses, all `application/problem+json`. */
export function problemResponses<S extends number>(
  ...statuses: S[]
): Record<S, { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } }> {
  const out = {} as Record<S, { description: string; content: { 'application/problem+json': { schema: typeof ProblemSchema } } }>;
  for (const s of statuses)
    out[s] = { description: DESCRIPTIONS[s] ?? 'Error.', content: { 'application/problem+json': { schema: ProblemSchema } } };
  return out;
}

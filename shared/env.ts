/**
 * Reading configuration from environment variables, one way everywhere: a variable that is unset or empty
 * takes its default; a variable that is set must parse completely and sit within its bounds, or the error
 * names the variable, what it must be and what it was ("ADAPTER_STORE_JOBS must be an integer in [1, 64],
 * got "0""). Nothing is coerced: "12abc", "1e3" for an integer, "yes" for a boolean are refused.
 *
 * Callers pass the environment (process.env on Node): this module imports nothing, so the job schema that
 * reads label limits is still bundled for the browser.
 */

/** An environment: process.env, or a test's own object. */
export type Env = Readonly<Record<string, string | undefined>>;

export class EnvError extends Error {
  override name = 'EnvError';
  constructor(
    /** The variable at fault. */
    readonly variable: string,
    message: string,
  ) {
    super(message);
  }
}

/** The variable's value; unset and empty are the same (an empty value in a CDK stack or a shell means "not set"). */
function given(env: Env, name: string): string | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : raw;
}

/** A string that must be set. */
export function requiredString(env: Env, name: string): string {
  const raw = given(env, name);
  if (raw === undefined) throw new EnvError(name, `environment variable ${name} is not set`);
  return raw;
}

/** A string, or `fallback` (undefined by default) when unset. */
export function optionalString(env: Env, name: string): string | undefined;
export function optionalString(env: Env, name: string, fallback: string): string;
export function optionalString(env: Env, name: string, fallback?: string): string | undefined {
  return given(env, name) ?? fallback;
}

/** Items of a comma-separated list, trimmed, empty items dropped ("a, b,," is ["a", "b"]). */
export function splitList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A comma-separated list (splitList), or `fallback` when unset. */
export function stringList(env: Env, name: string, fallback: readonly string[] = []): string[] {
  const raw = given(env, name);
  return raw === undefined ? [...fallback] : splitList(raw);
}

export interface Bounds {
  /** Smallest value allowed (inclusive). */
  min: number;
  /** Largest value allowed (inclusive); default: none (for integers, Number.MAX_SAFE_INTEGER). */
  max?: number;
}

function describeBounds(kind: 'integer' | 'number', { min, max }: Bounds): string {
  if (max !== undefined) return `${kind === 'integer' ? 'an integer' : 'a number'} in [${min}, ${max}]`;
  if (min === 1 && kind === 'integer') return 'a positive integer';
  return `${kind === 'integer' ? 'an integer' : 'a number'} >= ${min}`;
}

const INTEGER_RE = /^[+-]?\d+$/;
// Decimal notation only: "0x10", "Infinity", " 5" and "" are not numbers a person meant to write.
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A whole number within `bounds`, or `fallback` when unset. */
export function integer(env: Env, name: string, bounds: Bounds): number | undefined;
export function integer(env: Env, name: string, bounds: Bounds, fallback: number): number;
export function integer(env: Env, name: string, bounds: Bounds, fallback?: number): number | undefined {
  const raw = given(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  const max = bounds.max ?? Number.MAX_SAFE_INTEGER;
  if (!INTEGER_RE.test(raw) || !Number.isSafeInteger(n) || n < bounds.min || n > max)
    throw new EnvError(name, `${name} must be ${describeBounds('integer', bounds)}, got "${raw}"`);
  return n;
}

/** A finite number within `bounds` (decimal or exponent notation: 1e17), or `fallback` when unset. */
export function number(env: Env, name: string, bounds: Bounds & { exclusiveMin?: boolean }): number | undefined;
export function number(env: Env, name: string, bounds: Bounds & { exclusiveMin?: boolean }, fallback: number): number;
export function number(env: Env, name: string, bounds: Bounds & { exclusiveMin?: boolean }, fallback?: number): number | undefined {
  const raw = given(env, name);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  const low = bounds.exclusiveMin ? n > bounds.min : n >= bounds.min;
  if (!NUMBER_RE.test(raw) || !Number.isFinite(n) || !low || (bounds.max !== undefined && n > bounds.max)) {
    const what =
      bounds.exclusiveMin && bounds.min === 0 && bounds.max === undefined
        ? 'a positive number'
        : bounds.exclusiveMin
          ? `a number > ${bounds.min}${bounds.max !== undefined ? ` and <= ${bounds.max}` : ''}`
          : describeBounds('number', bounds);
    throw new EnvError(name, `${name} must be ${what}, got "${raw}"`);
  }
  return n;
}

const TRUE = ['true', '1'];
const FALSE = ['false', '0'];

/** "true"/"1" or "false"/"0" (any case), or `fallback` when unset. */
export function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = given(env, name);
  if (raw === undefined) return fallback;
  const v = raw.toLowerCase();
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  throw new EnvError(name, `${name} must be true or false (or 1 or 0), got "${raw}"`);
}

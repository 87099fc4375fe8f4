/** Polling for tests: wait for a condition, and fail loudly (never carry on) when it does not come. */
import { setTimeout as sleep } from 'node:timers/promises';

export interface WaitOptions {
  /** Default 60 s. */
  timeoutMs?: number;
  /** Default 50 ms. */
  intervalMs?: number;
}

/**
 * Calls `probe` until it returns a truthy value, and returns that value. Throws on timeout, naming
 * `what` and the last value seen (a function of it, when `describe` is given).
 */
export async function waitUntil<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  o: WaitOptions & { describe?: (last: T | undefined | null | false) => string } = {},
): Promise<T> {
  const timeoutMs = o.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) {
      const last = o.describe ? o.describe(value) : JSON.stringify(value);
      throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} (last: ${last})`);
    }
    await sleep(o.intervalMs ?? 50);
  }
}

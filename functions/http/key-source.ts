/**
 * API keys that can change while the process runs: a loader (e.g. a Secrets Manager read) called again
 * once the last answer is older than `maxAgeMs`, so a key removed from the list stops working within
 * that time on every warm Lambda container. A failed reload keeps the last good list (the store behind
 * it may blip) and is tried again on the next request; the first load's failure is the caller's.
 */
export type KeySource = () => Promise<readonly string[]>;

export interface RefreshOptions {
  maxAgeMs: number;
  now?: () => number;
  onReloadError?: (err: Error) => void;
}

export function refreshingKeys(load: () => Promise<readonly string[]>, o: RefreshOptions): KeySource {
  const now = o.now ?? Date.now;
  let keys: readonly string[] | null = null;
  let loadedAt = 0;
  let inFlight: Promise<readonly string[]> | null = null;
  const reload = (): Promise<readonly string[]> => {
    // One reload at a time; concurrent requests share it.
    inFlight ??= load()
      .then((fresh) => {
        keys = fresh;
        loadedAt = now();
        return fresh;
      })
      .catch((err: unknown) => {
        if (keys === null) throw err;
        o.onReloadError?.(err as Error);
        loadedAt = now(); // retry after another interval, not on every request
        return keys;
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };
  return async () => (keys !== null && now() - loadedAt < o.maxAgeMs ? keys : reload());
}

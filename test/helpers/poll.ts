/** Bounded polling for tests that wait on asynchronous work in other processes. */

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns something other than undefined or false, and returns that.
 * A probe that throws counts as not yet (a peer still starting); the last error is reported
 * if the wait runs out, with `what` naming what was awaited.
 */
export async function waitFor<T>(
  what: string | (() => string),
  probe: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}${lastError ? ` (last error: ${String(lastError)})` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** Polls until `check` holds for the probed value; the error shows the last value seen. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T>,
  check: (value: T) => boolean,
  timeoutMs = 30_000,
  intervalMs = 200,
): Promise<T> {
  let last: T | undefined;
  const hit = await waitFor(
    () => `${what} (last: ${JSON.stringify(last)})`,
    async () => {
      last = await probe();
      return check(last) ? { value: last } : undefined;
    },
    timeoutMs,
    intervalMs,
  );
  return hit.value;
}

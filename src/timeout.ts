/** Bounds a promise in time: rejects with a clear message when `ms` pass first. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
    promise.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/**
 * Waits for `promise` to settle (resolve or reject) for at most `ms`; tells which came first.
 * Unlike `withTimeout` it never rejects: shutdown code uses it to decide whether to force.
 */
export async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  if (!Number.isFinite(ms)) {
    // setTimeout would treat it as 1 ms (anything above 2^31 - 1 is).
    await promise.catch(() => undefined);
    return true;
  }
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const settled = promise.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([settled, expired]);
  } finally {
    clearTimeout(timer);
  }
}

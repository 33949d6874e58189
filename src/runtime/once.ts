/**
 * A value loaded once per process and shared by every caller (concurrent callers wait for the same
 * load); a failed load is forgotten, so the next call tries again instead of failing forever.
 */
export function loadOnce<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= load().catch((error: unknown) => {
      pending = undefined;
      throw error;
    });
    return pending;
  };
}

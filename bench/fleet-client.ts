/** What the scale benchmark and its floor both do against the API server: bounded concurrency, lists. */
import type { KubeClient } from '../src/runtime/kube/client.ts';
import { collectionPath, type ResourceRef } from '../src/runtime/kube/resource-ref.ts';

/** Runs `work` over `items`, at most `limit` at a time. */
export async function pool<T>(items: readonly T[], limit: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++] as T);
  }));
}

/** Every object of a kind, in every namespace. */
export async function list<T>(client: KubeClient, ref: ResourceRef, query: Record<string, string> = {}): Promise<T[]> {
  return (await client.request<{ items: T[] }>({ method: 'GET', path: collectionPath(ref), query })).items;
}

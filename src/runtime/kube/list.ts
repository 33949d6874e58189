/** A chunked list (limit/continue), as the API server pages large collections. */
import type { KubeClient } from './client.ts';
import { collectionPath, type ResourceRef } from './resource-ref.ts';

interface ListPage<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  pageSize?: number;
  signal?: AbortSignal;
}

/** Every object of a kind, read from the API server page by page, and the list's resourceVersion. */
export async function listAll<T>(client: KubeClient, ref: ResourceRef, options: ListOptions = {}): Promise<{ items: T[]; resourceVersion: string }> {
  const items: T[] = [];
  let continueToken: string | undefined;
  let resourceVersion: string;
  do {
    const page = await client.request<ListPage<T>>({
      method: 'GET',
      path: collectionPath(ref, options.namespace),
      query: { limit: options.pageSize ?? 500, continue: continueToken, labelSelector: options.labelSelector },
      signal: options.signal,
    });
    items.push(...page.items);
    continueToken = page.metadata.continue || undefined;
    resourceVersion = page.metadata.resourceVersion ?? '';
  } while (continueToken);
  return { items, resourceVersion };
}

/** Small helpers shared by integration tests: clients for the suite's cluster, waiting, namespaces. */
import { randomBytes } from 'node:crypto';
import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  KubernetesObjectApi,
  type V1Namespace,
} from '@kubernetes/client-node';
import { inject } from 'vitest';
import type { KubeClient } from '../../src/runtime/kube/client.ts';
import { KubeApiError } from '../../src/runtime/kube/errors.ts';
import { K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';

export interface TestClients {
  config: KubeConfig;
  kubeconfigPath: string;
  core: CoreV1Api;
  objects: KubernetesObjectApi;
  custom: CustomObjectsApi;
}

export function clients(): TestClients {
  const kubeconfigPath = inject('kubeconfig');
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  return {
    config,
    kubeconfigPath,
    core: config.makeApiClient(CoreV1Api),
    objects: config.makeApiClient(KubernetesObjectApi),
    custom: config.makeApiClient(CustomObjectsApi),
  };
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

/**
 * Polls until `check` returns a value other than undefined, or fails with the last observation,
 * so a timeout says what was seen instead of only that time ran out.
 */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  { timeoutMs = 60_000, intervalMs = 250 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
      lastError = undefined;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: last error ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs / 1000}s waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** The HTTP status code and the message a kubectl user reads, of a failed API call (ours or client-node's). */
export function apiError(error: unknown): { code: number; message: string } {
  if (error instanceof KubeApiError) return { code: error.code, message: error.serverMessage };
  const e = error as { code?: number; body?: unknown; message?: string };
  let message = e.message ?? String(error);
  if (typeof e.body === 'string') {
    try {
      message = (JSON.parse(e.body) as { message?: string }).message ?? e.body;
    } catch {
      message = e.body;
    }
  } else if (e.body && typeof e.body === 'object' && 'message' in e.body) {
    message = String((e.body as { message: unknown }).message);
  }
  return { code: e.code ?? 0, message };
}

/** Expects the promise to be refused by the API server; returns its status code and message. */
export async function refused(promise: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await promise;
  } catch (error) {
    return apiError(error);
  }
  throw new Error('expected the API server to refuse the request, but it was accepted');
}

export async function createNamespace(core: CoreV1Api, prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const name = uniqueName(prefix);
  const body: V1Namespace = { metadata: { name, labels } };
  await core.createNamespace({ body });
  return name;
}

/** A token of the ServiceAccount, as a pod would have mounted it (TokenRequest). */
export async function serviceAccountToken(client: KubeClient, name: string, namespace: string, expirationSeconds = 3600, audiences: string[] = []): Promise<string> {
  const answer = await client.request<{ status: { token: string } }>({
    method: 'POST',
    path: `${objectPath(K8S.ServiceAccount, name, namespace)}/token`,
    // No audiences: the API server's own; a projected token volume names its audience the same way.
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds, ...(audiences.length > 0 ? { audiences } : {}) } },
  });
  return answer.status.token;
}

/** A kubeconfig for the suite's cluster that authenticates with this bearer token instead of the admin's certificate. */
export function tokenKubeConfig(kubeconfigPath: string, user: string, token: string): KubeConfig {
  const admin = new KubeConfig();
  admin.loadFromFile(kubeconfigPath);
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('the suite\'s kubeconfig has no cluster');
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [cluster],
    users: [{ name: user, token }],
    contexts: [{ name: user, cluster: cluster.name, user }],
    currentContext: user,
  });
  return config;
}

/** Reading and writing Secret data (base64 on the wire), and Secrets that are made once and then only read. */
import type { V1Secret } from '@kubernetes/client-node';
import type { KubeClient } from './client.ts';
import { createObjectOnce, getObject } from '../apply.ts';
import { K8S } from './resource-ref.ts';

export function base64(value: string | Buffer): string {
  return Buffer.from(value).toString('base64');
}

/** A Secret's value as text, or undefined when the key is absent. */
export function secretField(secret: Pick<V1Secret, 'data'> | undefined, key: string): string | undefined {
  const value = secret?.data?.[key];
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/**
 * Reads a Secret that must exist once (a CA, a master key), making it with `make` if no one has yet.
 * Concurrent makers (replicas starting together) converge on the first one stored.
 */
export async function readOrCreateSecret(client: KubeClient, namespace: string, name: string, make: () => Promise<V1Secret>): Promise<V1Secret> {
  const existing = await getObject<V1Secret>(client, K8S.Secret, name, namespace);
  if (existing) return existing;
  const secret = await make();
  const body = { apiVersion: 'v1', kind: 'Secret', ...secret, metadata: { ...secret.metadata, name, namespace } };
  const created = await createObjectOnce<V1Secret>(client, K8S.Secret, namespace, body);
  if (created) return created;
  const winner = await getObject<V1Secret>(client, K8S.Secret, name, namespace);
  if (!winner) throw new Error(`Secret ${namespace}/${name} was made by another replica and deleted before it could be read; retrying`);
  return winner;
}

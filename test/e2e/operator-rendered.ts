/**
 * What a gateway pod mounts, as files, from what the operator rendered on the real API server: the
 * config Secret, and tls.crt, tls.key and ca.crt of the TLS Secret (as the Deployment projects
 * them). Tests run real gateway processes on these files (GatewayFixture.onConfig).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import type { GatewayAccessConfig } from '../../src/gateway/access-config.ts';
import type { KubeClient } from '../../src/runtime/kube/client.ts';
import { eventualSecret, requiredSecretField } from '../support/cluster-objects.ts';

/** Writes the space's rendered gateway files under `work`/config (and `work`/ca.crt); returns access.json. */
export async function writeRenderedGatewayFiles(client: KubeClient, namespace: string, space: string, work: string): Promise<GatewayAccessConfig> {
  const configDir = join(work, 'config');
  await mkdir(configDir, { recursive: true });
  await mkdir(join(work, 'data'), { recursive: true });
  const config: V1Secret = await eventualSecret(client, namespace, `${space}-gateway-config`);
  const tls = await eventualSecret(client, namespace, `${space}-gateway-tls`);
  for (const key of Object.keys(config.data ?? {})) await writeFile(join(configDir, key), requiredSecretField(config, key));
  for (const key of ['tls.crt', 'tls.key', 'ca.crt']) await writeFile(join(configDir, key), requiredSecretField(tls, key));
  await writeFile(join(work, 'ca.crt'), requiredSecretField(tls, 'ca.crt'));
  return JSON.parse(requiredSecretField(config, 'access.json')) as GatewayAccessConfig;
}

/**
 * The export's key and space facts from the files the gateway reads (its --config-dir): access.json
 * gives the space uid, the custody and the endpoints; the provider's data key comes from data.key
 * (outside a cluster) or the operator's key service (an export Job), never from a Secret.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ACCESS_FILE, CA_CERT_FILE, DATA_KEY_FILE, decodeKeyFile, parseAccessConfig } from '../gateway/config.ts';
import { fetchDataKey, type KeyServiceClientOptions } from '../gateway/key-client.ts';
import type { GatewayAccessConfig } from '../gateway/access-config.ts';
import type { ExportEndpoint, ExportKey } from './types.ts';

export interface SpaceFacts {
  namespace: string;
  space: string;
  spaceUid: string;
  key: ExportKey;
  endpoints: ExportEndpoint[];
}

/** Pure: what the export needs from an access configuration and the data.key contents (or null). */
export function spaceFactsOf(access: GatewayAccessConfig, dataKey: Buffer | null): SpaceFacts {
  const custody = access.space.keyCustody;
  let key: ExportKey;
  if (custody.mode === 'customer' && custody.keyId !== undefined && custody.record !== undefined) key = { mode: 'customer', keyId: custody.keyId, record: custody.record };
  // No space password was ever set: the gateway never had a key, so it stored nothing encrypted.
  else if (custody.mode === 'customer') key = { mode: 'none' };
  else if (dataKey !== null) key = { mode: 'provider', dataKey };
  else if (access.space.encryptAtRest) throw new Error(`${DATA_KEY_FILE} is missing: the space is encrypted at rest under provider custody, so the export needs its data key`);
  else key = { mode: 'none' };
  return {
    namespace: access.space.namespace,
    space: access.space.name,
    spaceUid: access.space.uid,
    key,
    endpoints: access.endpoints.map((endpoint) => ({ name: endpoint.name, repository: endpoint.repository })),
  };
}

async function readOptional(path: string): Promise<string | null> {
  return readFile(path, 'utf8').catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  });
}

/**
 * The facts from a gateway config directory. A provider data key comes from data.key when there is
 * one (outside a cluster), else from the operator's key service when one is given (an export Job,
 * which runs as the space's gateway ServiceAccount; ca.crt of the directory verifies the service).
 */
export async function readSpaceFacts(configDir: string, keyService?: KeyServiceClientOptions): Promise<SpaceFacts> {
  const { access } = parseAccessConfig(await readFile(join(configDir, ACCESS_FILE), 'utf8'));
  const custody = access.space.keyCustody;
  if (custody.mode !== 'provider') return spaceFactsOf(access, null);
  const keyText = await readOptional(join(configDir, DATA_KEY_FILE));
  if (keyText !== null) return spaceFactsOf(access, decodeKeyFile(keyText, DATA_KEY_FILE));
  if (!keyService || !access.space.encryptAtRest) return spaceFactsOf(access, null);
  const ca = await readFile(join(configDir, CA_CERT_FILE)).catch(() => null);
  const key = await fetchDataKey(keyService, { namespace: access.space.namespace, name: access.space.name, keyId: custody.keyId }, ca);
  return spaceFactsOf(access, key);
}

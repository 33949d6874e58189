/**
 * The export's key and space facts from the files the gateway reads (its --config-dir): access.json
 * gives the space uid, the custody and the endpoints; data.key the provider's data key. Only
 * access.json and data.key are read, so an export Job needs no TLS material.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ACCESS_FILE, DATA_KEY_FILE, decodeKeyFile, parseAccessConfig } from '../gateway/config.ts';
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

export async function readSpaceFacts(configDir: string): Promise<SpaceFacts> {
  const { access } = parseAccessConfig(await readFile(join(configDir, ACCESS_FILE), 'utf8'));
  const keyText = access.space.keyCustody.mode === 'provider' ? await readOptional(join(configDir, DATA_KEY_FILE)) : null;
  return spaceFactsOf(access, keyText === null ? null : decodeKeyFile(keyText, DATA_KEY_FILE));
}

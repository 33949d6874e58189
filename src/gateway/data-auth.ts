/**
 * Who may touch which repository. A data request names its endpoint in the first path segment; it is
 * allowed when HTTP Basic credentials are that endpoint's own (and the endpoint is enabled), or the
 * space's maintenance credential. Nothing else is ever mapped onto a repository, so an endpoint can
 * reach only the one directory its entry names.
 *
 * What a principal may do: endpoints add objects and read their own; they delete only when the space
 * is not append-only — except lock files, which restic must be able to remove after every run (as
 * rest-server's append-only mode allows). The maintenance credential may also delete.
 */
import type { IncomingMessage } from 'node:http';
import type { EndpointAccess } from './access-config.ts';
import type { AccessConfiguration } from './config.ts';
import type { CredentialCache } from './credential-cache.ts';
import { HttpError, basicCredentials } from './http-util.ts';
import type { ResticFileType } from './paths.ts';

export type DataPrincipal = { kind: 'endpoint'; name: string } | { kind: 'maintenance'; name: string };

export interface DataAccess {
  principal: DataPrincipal;
  endpoint: EndpointAccess;
}

const CHALLENGE = { 'WWW-Authenticate': 'Basic realm="restic", charset="UTF-8"' };

/** Refusal for missing or wrong credentials (always the same text: nothing about which part was wrong). */
export function unauthorized(): HttpError {
  return new HttpError(401, 'authentication required', CHALLENGE);
}

/**
 * Authenticates a data request for the repository of endpoint `endpointName`. Throws HttpError 401
 * (bad credentials), 403 (valid credentials without access to this repository, or a disabled
 * endpoint) or 404 (maintenance asking for an endpoint that does not exist).
 */
export async function authorizeDataRequest(req: IncomingMessage, endpointName: string, config: AccessConfiguration, credentials: CredentialCache): Promise<DataAccess> {
  const presented = basicCredentials(req);
  if (presented === null) throw unauthorized();
  const target = config.endpoints.get(endpointName);
  const maintenance = config.access.maintenance;

  if (maintenance !== undefined && presented.user === maintenance.username) {
    if (!(await credentials.check('maintenance', presented.user, presented.password, maintenance.credentialHash))) throw unauthorized();
    if (target === undefined) throw new HttpError(404, 'no such endpoint');
    return { principal: { kind: 'maintenance', name: presented.user }, endpoint: target };
  }

  const own = config.endpoints.get(presented.user);
  if (!(await credentials.check('endpoint', presented.user, presented.password, own?.credentialHash ?? null)) || own === undefined) {
    throw unauthorized();
  }
  if (own.name !== endpointName) throw new HttpError(403, `endpoint ${own.name} may only access /${own.name}/`);
  if (!own.enabled) throw new HttpError(403, 'this endpoint is disabled');
  return { principal: { kind: 'endpoint', name: own.name }, endpoint: own };
}

/** Whether the principal may delete a file of this type. */
export function mayDelete(principal: DataPrincipal, appendOnly: boolean, type: ResticFileType): boolean {
  return principal.kind === 'maintenance' || !appendOnly || type === 'locks';
}

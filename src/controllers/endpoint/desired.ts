/**
 * An Endpoint's own credentials: a long random secret for its backup client (only a slow hash of it
 * reaches the gateway), a one-time activation code, and where its private repository is.
 */
import type { BackupSpace, Endpoint } from '../../api/types.ts';
import { generateActivationCode, generateCredential, hashSecret } from '../../crypto/index.ts';
import type { ApplyObject } from '../../runtime/apply.ts';
import { controllerReference } from '../../runtime/object.ts';
import {
  CREDENTIAL_HASH_ANNOTATION,
  ENDPOINT_LABEL,
  endpointCredentialsSecretName,
  GATEWAY_PORT,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  SECRET_TYPE_LABEL,
  SPACE_LABEL,
  gatewayServiceHost,
  endpointRepository,
  endpointRepositoryOf,
  REPOSITORY_PATH_KEY,
  TENANT_LABEL,
} from '../labels.ts';
import { secretField } from '../../runtime/kube/secrets.ts';
import type { V1Secret } from '@kubernetes/client-node';

/** Where the endpoint's repository is on its space: as its credentials Secret says, or the name-based path of older endpoints. */
export function repositoryPathOf(endpointName: string, credentials: Pick<V1Secret, 'data'> | undefined): string {
  return secretField(credentials, REPOSITORY_PATH_KEY) ?? endpointRepository(endpointName);
}

export interface IssuedCredentials {
  credential: string;
  activationCode: string;
  credentialHash: string;
}

export async function issueCredentials(): Promise<IssuedCredentials> {
  const credential = generateCredential();
  return { credential, activationCode: generateActivationCode(), credentialHash: await hashSecret(credential) };
}

/** Where the endpoint's backup client connects: the space's fixed address, or its Service inside the cluster. */
export function gatewayHost(space: BackupSpace): string {
  return space.status?.address ?? gatewayServiceHost(space.metadata.namespace ?? '', space.metadata.name ?? '');
}

/** restic's repository string (credentials are given separately, never in the URL stored in status). */
export function repositoryUrl(endpoint: Endpoint, space: BackupSpace): string {
  const host = gatewayHost(space);
  return `rest:https://${host.includes(':') ? `[${host}]` : host}:${GATEWAY_PORT}/${endpoint.metadata.name}/`;
}

export function credentialsSecret(endpoint: Endpoint, space: BackupSpace, tenant: string, issued: IssuedCredentials): ApplyObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: endpointCredentialsSecretName(endpoint.metadata.name ?? ''),
      namespace: endpoint.metadata.namespace,
      labels: {
        [MANAGED_BY_LABEL]: MANAGED_BY,
        [TENANT_LABEL]: tenant,
        [SPACE_LABEL]: space.metadata.name ?? '',
        [ENDPOINT_LABEL]: endpoint.metadata.name ?? '',
        [SECRET_TYPE_LABEL]: 'endpoint-credentials',
      },
      annotations: { [CREDENTIAL_HASH_ANNOTATION]: issued.credentialHash },
      ownerReferences: [controllerReference(endpoint)],
    },
    type: 'Opaque',
    stringData: {
      username: endpoint.metadata.name ?? '',
      password: issued.credential,
      activationCode: issued.activationCode,
      repository: repositoryUrl(endpoint, space),
      [REPOSITORY_PATH_KEY]: endpointRepositoryOf(endpoint.metadata.name ?? '', endpoint.metadata.uid ?? ''),
    },
  };
}

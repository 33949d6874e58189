/**
 * An Endpoint's own credentials: a long random secret for its backup client (only a slow hash of it
 * reaches the gateway), a one-time activation code that enrols the device (the credential sealed
 * under the code, exchanged once at the gateway's POST /v1/enrol before it expires), the CA that
 * signs the gateway's certificate, and where its private repository is.
 */
import type { BackupSpace, Endpoint } from '../../api/types.ts';
import { generateActivationCode, generateCredential, hashSecret, sealEnrolment, validateEnrolmentSeal, type EnrolmentSeal } from '../../crypto/index.ts';
import type { EndpointEnrolment } from '../../gateway/access-config.ts';
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

/** How long an activation code can be exchanged for the device's credentials (S3: it is sent with the download link). */
export const ACTIVATION_CODE_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** Credentials Secret keys of the enrolment: the sealed credential and the code's expiry. */
export const ENROLMENT_KEY = 'enrolment';
export const ACTIVATION_EXPIRES_KEY = 'activationExpiresAt';
export const ACTIVATION_CODE_KEY = 'activationCode';
/** The CA that signs the gateway's certificate, for the device to verify it (restic --cacert). */
export const CA_CERT_KEY = 'ca.crt';

export interface IssuedCredentials {
  credential: string;
  activationCode: string;
  credentialHash: string;
  /** The credential sealed under the activation code, for the gateway's enrolment route. */
  enrolment: EnrolmentSeal;
  activationExpiresAt: string;
}

/** What an enrolment seal is bound to: the endpoint's namespace and name, which the gateway knows too. */
export function enrolmentBinding(namespace: string, endpoint: string): string {
  return `${namespace}/${endpoint}`;
}

export async function issueCredentials(endpoint: Endpoint, now: Date): Promise<IssuedCredentials> {
  const credential = generateCredential();
  const activationCode = generateActivationCode();
  return {
    credential,
    activationCode,
    credentialHash: await hashSecret(credential),
    enrolment: await sealEnrolment(credential, activationCode, enrolmentBinding(endpoint.metadata.namespace ?? '', endpoint.metadata.name ?? '')),
    activationExpiresAt: new Date(now.getTime() + ACTIVATION_CODE_TTL_MS).toISOString(),
  };
}

/**
 * The enrolment the gateway offers, from the credentials Secret: only while the activation code is
 * still there (it is dropped once the device has backed up) and well-formed; undefined otherwise.
 */
export function enrolmentOf(credentials: Pick<V1Secret, 'data'> | undefined): EndpointEnrolment | undefined {
  const sealText = secretField(credentials, ENROLMENT_KEY);
  const expiresAt = secretField(credentials, ACTIVATION_EXPIRES_KEY);
  const repositoryUrl = secretField(credentials, 'repository');
  if (!sealText || !expiresAt || !repositoryUrl || secretField(credentials, ACTIVATION_CODE_KEY) === undefined) return undefined;
  if (Number.isNaN(Date.parse(expiresAt))) return undefined;
  try {
    return { seal: validateEnrolmentSeal(JSON.parse(sealText)), expiresAt: new Date(Date.parse(expiresAt)).toISOString(), repositoryUrl };
  } catch {
    // A hand-edited Secret: no enrolment is offered rather than a broken one.
    return undefined;
  }
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

export function credentialsSecret(endpoint: Endpoint, space: BackupSpace, tenant: string, issued: IssuedCredentials, caCertificate: string): ApplyObject {
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
      [ACTIVATION_CODE_KEY]: issued.activationCode,
      [ACTIVATION_EXPIRES_KEY]: issued.activationExpiresAt,
      [ENROLMENT_KEY]: JSON.stringify(issued.enrolment),
      [CA_CERT_KEY]: caCertificate,
      repository: repositoryUrl(endpoint, space),
      [REPOSITORY_PATH_KEY]: endpointRepositoryOf(endpoint.metadata.name ?? '', endpoint.metadata.uid ?? ''),
    },
  };
}

/** Labels, names and ports the controllers agree on. */
import type { Tenant } from '../api/types.ts';

export const OPERATOR_NAME = 'tenant-backup-operator';
export const MANAGED_BY = OPERATOR_NAME;

export const NAME_LABEL = 'app.kubernetes.io/name';
export const INSTANCE_LABEL = 'app.kubernetes.io/instance';
export const COMPONENT_LABEL = 'app.kubernetes.io/component';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const TENANT_LABEL = 'tenantbackup.io/tenant';
export const SPACE_LABEL = 'tenantbackup.io/space';
export const ENDPOINT_LABEL = 'tenantbackup.io/endpoint';
export const CONTRACT_LABEL = 'tenantbackup.io/contract';
/**
 * On every node: the ISO 3166-1 alpha-2 code of the country the node stands in, set by the provider
 * (S7). A datacenter counts and pins to only the nodes its selector matches that carry its own
 * country here, so a selector pointed at the wrong zone cannot carry data across a border.
 */
export const COUNTRY_LABEL = 'tenantbackup.io/country';

export const GATEWAY_COMPONENT = 'gateway';
export const GATEWAY_PORT = 8443;

export const TENANT_NAMESPACE_PREFIX = 'tenant-';

export function tenantNamespaceName(tenant: Pick<Tenant, 'metadata'> | string): string {
  const name = typeof tenant === 'string' ? tenant : tenant.metadata.name ?? '';
  return `${TENANT_NAMESPACE_PREFIX}${name}`;
}

/** What kind of Secret the operator made, so caches and RBAC can tell them apart. */
export const SECRET_TYPE_LABEL = 'tenantbackup.io/secret-type';
export const USER_LABEL = 'tenantbackup.io/user';
/** On RBAC objects of the access controller (enrolment and credentials readers), to keep them apart from the tenant controller's. */
export const ACCESS_LABEL = 'tenantbackup.io/access';
/**
 * The namespaces the operator made for a tenant. One selector for every watcher, so they share one
 * cache; a look-alike namespace made by hand is not among them and lends no tenant's rights.
 */
export const TENANT_NAMESPACE_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY},${TENANT_LABEL}`;
/** On a gateway Deployment: digest of the pod settings it was built with (backupspace/gateway-workload.ts). */
export const GATEWAY_WORKLOAD_ANNOTATION = 'tenantbackup.io/gateway-workload';
export const CREDENTIAL_HASH_ANNOTATION = 'tenantbackup.io/credential-hash';
export const PASSWORD_HASH_ANNOTATION = 'tenantbackup.io/password-hash';

export type SecretType = 'endpoint-credentials' | 'space-key' | 'gateway-config' | 'gateway-tls' | 'maintenance-credentials' | 'report-token' | 'volume-encryption' | 'two-factor-enrolment';

/** Names of everything a BackupSpace owns, in one place. */
export function spaceObjectNames(space: string) {
  return {
    volume: `${space}-data`,
    gateway: `${space}-gateway`,
    // Headless, listing every gateway pod (ready or not), for the replicas to find each other.
    peersService: `${space}-gateway-peers`,
    serviceAccount: `${space}-gateway`,
    keySecret: `${space}-key`,
    configSecret: `${space}-gateway-config`,
    tlsSecret: `${space}-gateway-tls`,
    maintenanceSecret: `${space}-maintenance`,
    reportTokenSecret: `${space}-report-token`,
    // CSI drivers find the per-volume encryption Secret by the claim's name (${pvc.name} templating).
    volumeEncryptionSecret: `${space}-data`,
    disruptionBudget: `${space}-gateway`,
  };
}

/** The gateway Service's DNS name inside the cluster: what clients and the operator connect to, and the certificate names. */
export function gatewayServiceHost(namespace: string, space: string): string {
  return `${spaceObjectNames(space).gateway}.${namespace}.svc`;
}

export function endpointCredentialsSecretName(endpoint: string): string {
  return `endpoint-${endpoint}-credentials`;
}

export function enrolmentSecretName(user: string): string {
  return `user-${user}-2fa`;
}

/**
 * The repository path of an endpoint on its space (the gateway serves it at /<endpoint>/), for
 * endpoints whose credentials Secret names no path (made before paths were keyed by uid).
 */
export function endpointRepository(endpoint: string): string {
  return `endpoints/${endpoint}`;
}

/** Key of the credentials Secret that holds the endpoint's repository path, chosen once when it is issued. */
export const REPOSITORY_PATH_KEY = 'repositoryPath';

/**
 * A new endpoint's repository path, keyed by its uid: an Endpoint deleted and made again with the
 * same name gets an empty repository of its own and never the old one's backups (which stay on the
 * space, exported with it, until the space goes).
 */
export function endpointRepositoryOf(endpoint: string, uid: string): string {
  return `endpoints/${endpoint}.${uid.replace(/[^a-zA-Z0-9]/g, '').slice(0, 12)}`;
}

/**
 * The gateway's access configuration of a space, rendered from the cluster's objects: which devices
 * may write where, which people may use the management routes and with which factors, and the key
 * custody. Hashes and wrapped keys only (src/gateway/access-config.ts is the contract).
 */
import { parseQuantity } from '../../admission/quantity.ts';
import type { BackupSpace, Endpoint, Tenant } from '../../api/types.ts';
import { ACCESS_CONFIG_VERSION, type EndpointEnrolment, type GatewayAccessConfig, type TwoFactorPolicy } from '../../gateway/access-config.ts';
import { endpointRepository } from '../labels.ts';
import { serviceActive } from '../tenant/termination.ts';
import type { SpaceKeys } from './keys.ts';

export const MAINTENANCE_USER = 'maintenance';

export interface AccessInputs {
  space: BackupSpace;
  tenant: Tenant;
  keys: SpaceKeys;
  /** Endpoints of this space with the hash of their issued credential (endpoints without one are left out). */
  endpoints: { endpoint: Endpoint; credentialHash: string; repository?: string; enrolment?: EndpointEnrolment }[];
  /** Enrolled people with their password hash and TOTP secret. */
  users: { name: string; email: string; role: 'admin' | 'operator' | 'viewer'; passwordHash: string; totpSecret?: string }[];
  maintenanceHash?: string;
  reportTokenHash: string;
  /** When the configuration is rendered (a Terminated contract's service runs until its end date). */
  now?: Date;
}

export function twoFactorPolicy(tenant: Tenant): TwoFactorPolicy {
  switch (tenant.spec.security?.twoFactor ?? 'Optional') {
    case 'Required':
      return 'two-factor';
    case 'Optional':
      return 'one-factor';
    case 'Disabled':
      return 'disabled';
  }
}

export function renderAccessConfig(inputs: AccessInputs): GatewayAccessConfig {
  const { space, tenant, keys } = inputs;
  // Service runs for an Active contract, or a Terminated one until its end date; never for a deleted tenant.
  const contractActive = serviceActive(tenant, inputs.now ?? new Date());
  const policy = twoFactorPolicy(tenant);
  return {
    version: ACCESS_CONFIG_VERSION,
    space: {
      namespace: space.metadata.namespace ?? '',
      name: space.metadata.name ?? '',
      uid: space.metadata.uid ?? '',
      quotaBytes: Number(parseQuantity(space.spec.size)),
      appendOnly: space.spec.access?.appendOnly ?? false,
      encryptAtRest: space.spec.encryption?.atRest ?? true,
      // Customer custody without a key yet: the gateway waits for the customer to set the password.
      keyCustody: keys.custody === 'customer'
        ? { mode: 'customer', ...(keys.keyId && keys.record ? { keyId: keys.keyId, record: keys.record, ...(keys.recordVersion ? { recordVersion: keys.recordVersion } : {}) } : {}) }
        : { mode: 'provider', keyId: keys.keyId ?? '' },
    },
    endpoints: inputs.endpoints
      .map(({ endpoint, credentialHash, repository, enrolment }) => {
        const enabled = contractActive && !endpoint.spec.suspended && !endpoint.metadata.deletionTimestamp;
        return {
          name: endpoint.metadata.name ?? '',
          credentialHash,
          repository: repository ?? endpointRepository(endpoint.metadata.name ?? ''),
          enabled,
          // A device that may not back up is not handed its credentials either.
          ...(enrolment && enabled ? { enrolment } : {}),
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name)),
    ...(inputs.maintenanceHash ? { maintenance: { username: MAINTENANCE_USER, credentialHash: inputs.maintenanceHash } } : {}),
    humans: {
      policy,
      // A suspended contract refuses people too; a disabled policy has no human routes at all.
      users: contractActive && policy !== 'disabled' ? [...inputs.users].sort((a, b) => a.name.localeCompare(b.name)) : [],
    },
    reportTokenHash: inputs.reportTokenHash,
  };
}

/**
 * What a Tenant turns into, as pure functions of the Tenant and the operator's settings: its own
 * namespace (Pod Security `restricted`), a ResourceQuota through which the API server itself enforces
 * the contract's limits, a LimitRange, NetworkPolicies that isolate it, and RBAC for its people.
 */
import type { ApplyObject } from '../../runtime/apply.ts';
import { controllerReference } from '../../runtime/object.ts';
import { CONTAINER_MAX } from '../../api/gateway-workload.ts';
import type { Tenant } from '../../api/types.ts';
import { GROUP } from '../../api/resource.ts';
import { serviceActive } from './termination.ts';
import {
  COMPONENT_LABEL,
  CONTRACT_LABEL,
  GATEWAY_COMPONENT,
  GATEWAY_PORT,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  NAME_LABEL,
  OPERATOR_NAME,
  TENANT_LABEL,
  tenantNamespaceName,
  USER_LABEL,
} from '../labels.ts';

export interface TenantSettings {
  /** Namespace of the operator, whose pods may reach the gateways (to read their reports). */
  operatorNamespace: string;
  /** Provider namespaces whose pods must never reach a tenant (S11): e.g. kube-system, monitoring. */
  adminNamespaces: string[];
  /** Pod and Service CIDRs of the cluster, IPv4 and IPv6: excluded from "external" client traffic. */
  clusterCidrs: string[];
  /**
   * The provider's own admin networks (bastions, office, management VPN), IPv4 and IPv6: excluded
   * from "external" client traffic too, so no provider workstation reaches a tenant's gateway as if
   * it were a backup client (S11).
   */
  adminCidrs: string[];
  /** Prefix of Kubernetes user names for the tenant's people (e.g. `oidc:`); their email follows. */
  userPrefix: string;
}

export const QUOTA_NAME = 'tenant-quota';
export const LIMIT_RANGE_NAME = 'tenant-limits';
export const DEFAULT_DENY_POLICY = 'default-deny';
export const GATEWAY_INGRESS_POLICY = 'allow-backup-clients';

export const ROLE_NAMES = { admin: 'tenant-admin', operator: 'tenant-operator', viewer: 'tenant-viewer' } as const;

export const QUOTA_KEYS = {
  storage: 'requests.storage',
  claims: 'persistentvolumeclaims',
  spaces: `count/backupspaces.${GROUP}`,
  endpoints: `count/endpoints.${GROUP}`,
} as const;

export function contractState(tenant: Tenant): 'Active' | 'Suspended' | 'Terminated' {
  return tenant.spec.contract?.state ?? 'Active';
}

function commonLabels(tenant: Tenant): Record<string, string> {
  return { [TENANT_LABEL]: tenant.metadata.name ?? '', [MANAGED_BY_LABEL]: MANAGED_BY };
}

function owned(tenant: Tenant, apiVersion: string, kind: string, name: string, rest: Record<string, unknown>, extraLabels: Record<string, string> = {}): ApplyObject {
  return {
    apiVersion,
    kind,
    metadata: {
      name,
      namespace: tenantNamespaceName(tenant),
      labels: { ...commonLabels(tenant), ...extraLabels },
      ownerReferences: [controllerReference(tenant)],
    },
    ...rest,
  };
}

export function desiredNamespace(tenant: Tenant): ApplyObject {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name: tenantNamespaceName(tenant),
      labels: {
        ...commonLabels(tenant),
        [CONTRACT_LABEL]: contractState(tenant),
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/audit': 'restricted',
        'pod-security.kubernetes.io/warn': 'restricted',
      },
      annotations: { 'tenantbackup.io/display-name': tenant.spec.displayName },
      // The namespace follows its Tenant; deletion itself is driven by the Tenant's finalizer so that
      // no data disappears before termination has run.
      ownerReferences: [{ ...controllerReference(tenant), blockOwnerDeletion: true }],
    },
  };
}

export function desiredQuota(tenant: Tenant): ApplyObject {
  const spaces = tenant.spec.quotas.spaces ?? 1;
  return owned(tenant, 'v1', 'ResourceQuota', QUOTA_NAME, {
    spec: {
      hard: {
        [QUOTA_KEYS.storage]: String(tenant.spec.quotas.storage),
        // One volume per space.
        [QUOTA_KEYS.claims]: String(spaces),
        [QUOTA_KEYS.spaces]: String(spaces),
        [QUOTA_KEYS.endpoints]: String(tenant.spec.quotas.endpoints ?? 10),
      },
    },
  });
}

export function desiredLimitRange(tenant: Tenant): ApplyObject {
  return owned(tenant, 'v1', 'LimitRange', LIMIT_RANGE_NAME, {
    spec: {
      limits: [
        {
          type: 'Container',
          default: { cpu: '1', memory: '512Mi' },
          defaultRequest: { cpu: '100m', memory: '128Mi' },
          // The gateway settings' schema bounds limits by the same (api/gateway-workload.ts).
          max: { ...CONTAINER_MAX },
        },
        { type: 'PersistentVolumeClaim', max: { storage: String(tenant.spec.quotas.storage) } },
      ],
    },
  });
}

/** Deny everything in and out of the namespace, then open only the path backup clients need. */
export function desiredNetworkPolicies(tenant: Tenant, settings: TenantSettings, now = new Date()): ApplyObject[] {
  const defaultDeny = owned(tenant, 'networking.k8s.io/v1', 'NetworkPolicy', DEFAULT_DENY_POLICY, {
    spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
  });
  // A suspended or ended contract refuses access: with only the default deny left, nothing reaches the gateways.
  if (!serviceActive(tenant, now)) return [defaultDeny];
  // Each family's internet rule excepts that family's blocks (an ipBlock's except must lie inside its cidr).
  const excepted = [...new Set([...settings.clusterCidrs, ...settings.adminCidrs])];
  const except = (family: 4 | 6) => excepted.filter((cidr) => (family === 6) === cidr.includes(':'));
  const ipBlock = (cidr: string, family: 4 | 6) => ({ ipBlock: { cidr, ...(except(family).length ? { except: except(family) } : {}) } });
  const gatewayIngress = owned(tenant, 'networking.k8s.io/v1', 'NetworkPolicy', GATEWAY_INGRESS_POLICY, {
    spec: {
      podSelector: { matchLabels: { [COMPONENT_LABEL]: GATEWAY_COMPONENT } },
      policyTypes: ['Ingress'],
      ingress: [{
        ports: [{ protocol: 'TCP', port: GATEWAY_PORT }],
        from: [
          // Backup clients on the internet, IPv4 and IPv6; the cluster's own pod and service ranges
          // and the provider's admin networks excepted.
          ipBlock('0.0.0.0/0', 4),
          ipBlock('::/0', 6),
          // Ingress or load-balancer pods of the provider: any namespace that is neither a tenant's
          // nor a provider admin namespace.
          {
            namespaceSelector: {
              matchExpressions: [
                { key: TENANT_LABEL, operator: 'DoesNotExist' },
                { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...new Set([...settings.adminNamespaces, settings.operatorNamespace])] },
              ],
            },
          },
          // The operator, which reads each gateway's usage report.
          {
            namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': settings.operatorNamespace } },
            podSelector: { matchLabels: { [NAME_LABEL]: OPERATOR_NAME } },
          },
        ],
      }],
    },
  });
  return [defaultDeny, gatewayIngress];
}

const READ = ['get', 'list', 'watch'];
const WRITE = ['create', 'update', 'patch', 'delete'];

function tenantRoles(tenant: Tenant): ApplyObject[] {
  const ours = (resources: string[], verbs: string[]) => ({ apiGroups: [GROUP], resources, verbs });
  const readStatus = { apiGroups: [GROUP], resources: ['backupspaces', 'endpoints', 'backupspaces/status', 'endpoints/status'], verbs: READ };
  const events = { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: READ };
  // The stored copies of the backup reports (ConfigMaps backup-report-<period>, src/reports). RBAC
  // cannot grant by name prefix; the namespace's only other ConfigMap is the public kube-root-ca.crt
  // (the gateways' configuration and keys are Secrets, which none of these roles can read).
  const reports = { apiGroups: [''], resources: ['configmaps'], verbs: READ };
  // The namespace's audit evidence (S17): every person of the tenant may read it.
  const audit = { apiGroups: ['wgpolicyk8s.io'], resources: ['policyreports'], verbs: READ };
  return [
    owned(tenant, 'rbac.authorization.k8s.io/v1', 'Role', ROLE_NAMES.admin, { rules: [readStatus, events, reports, audit, ours(['backupspaces', 'endpoints'], WRITE)] }),
    owned(tenant, 'rbac.authorization.k8s.io/v1', 'Role', ROLE_NAMES.operator, { rules: [readStatus, events, reports, audit, ours(['endpoints'], WRITE)] }),
    owned(tenant, 'rbac.authorization.k8s.io/v1', 'Role', ROLE_NAMES.viewer, { rules: [readStatus, events, reports, audit] }),
  ];
}

export function userSubject(settings: TenantSettings, email: string) {
  return { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: `${settings.userPrefix}${email}` };
}

export function desiredRbac(tenant: Tenant, settings: TenantSettings): ApplyObject[] {
  const bindings = (tenant.spec.users ?? []).map((user) => owned(tenant, 'rbac.authorization.k8s.io/v1', 'RoleBinding', `user-${user.name}`, {
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: ROLE_NAMES[user.role ?? 'viewer'] },
    subjects: [userSubject(settings, user.email)],
  }, { [USER_LABEL]: user.name }));
  return [...tenantRoles(tenant), ...bindings];
}

/** Everything inside the tenant's namespace, in the order it is applied. */
export function desiredNamespacedObjects(tenant: Tenant, settings: TenantSettings): ApplyObject[] {
  return [desiredQuota(tenant), desiredLimitRange(tenant), ...desiredNetworkPolicies(tenant, settings), ...desiredRbac(tenant, settings)];
}

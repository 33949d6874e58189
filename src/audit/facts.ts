/**
 * What the audit reads from the cluster (gather.ts): the objects as the API server, the scheduler
 * and the gateways' rendered configuration have them, not the Tenant's spec. The spec appears only
 * as what was promised (residency, custody, two-factor, quotas); every check compares the promise
 * with these facts.
 */

export interface TenantPromise {
  name: string;
  uid: string;
  namespace: string;
  /** Allowed countries (ISO 3166-1 alpha-2); absent: the datacenters decide. */
  countries?: string[];
  datacenters?: string[];
  twoFactor: 'Required' | 'Optional' | 'Disabled';
  keyCustody: 'provider' | 'customer';
  users: string[];
  contractState: 'Active' | 'Suspended' | 'Terminated';
}

export interface GatewayPodFact {
  name: string;
  space: string;
  /** As the scheduler bound it; absent while pending. */
  nodeName?: string;
  phase?: string;
}

export interface NodeFact {
  name: string;
  /** The node's tenantbackup.io/country label; absent when unlabelled. */
  country?: string;
}

export interface SpaceFact {
  name: string;
  uid?: string;
  /** Datacenter (and its country) the space was built in, from the Datacenter object. */
  datacenter?: string;
  datacenterCountry?: string;
  /** The key Secret as stored: which custody it was wrapped for and which key it names. */
  keySecret?: { custody?: string; keyId?: string };
  /** The gateway's access configuration as rendered into its config Secret (access.json). */
  rendered?: {
    encryptAtRest: boolean;
    keyCustody: string;
    keyId?: string;
    twoFactorPolicy: string;
    /** People the gateway admits, and whether it holds a TOTP secret for each. */
    users: { name: string; totp: boolean }[];
  };
  /** The gateway's serving TLS: the minimum version it accepts and whether its certificate Secret exists. */
  tls: { minVersion: string; certificateSecret: boolean };
}

export interface NetworkPolicyFact {
  name: string;
  spec: unknown;
}

export interface AuditFacts {
  collectedAt: string;
  tenant: TenantPromise;
  namespacePresent: boolean;
  nodes: NodeFact[];
  gatewayPods: GatewayPodFact[];
  spaces: SpaceFact[];
  /** Users with an enrolment Secret holding a TOTP secret. */
  enrolledUsers: string[];
  networkPolicies: NetworkPolicyFact[];
  /** What the operator requires in the namespace (tenant/desired.ts), for comparison. */
  requiredNetworkPolicies: NetworkPolicyFact[];
  resourceQuota?: { name: string; hard: Record<string, string> };
  requiredQuota: { name: string; hard: Record<string, string> };
  endpoints: { name: string; agentVersion?: string; agentOutdated?: boolean }[];
  /** The tenant's termination as its status and record tell it; absent when none began. */
  termination?: { phase: string; record?: string; recordPresent: boolean; exportVerified?: boolean; exportWaived?: boolean };
}

/**
 * Human access of a tenant (S12): each person of a tenant whose 2FA is Required or Optional gets an
 * RFC 6238 TOTP enrolment (secret, otpauth URI, QR code) and an initial password, in a Secret that
 * only they can read; a tenant's admins and operators can read the devices' credentials, by name.
 */
import type { Tenant } from '../../api/types.ts';
import type { ApplyObject } from '../../runtime/apply.ts';
import { base64 } from '../../runtime/kube/secrets.ts';
import { controllerReference } from '../../runtime/object.ts';
import { generateCredential, generateTotpSecret, hashSecret, totpQrPng, totpUri } from '../../crypto/index.ts';
import { ACCESS_LABEL, enrolmentSecretName, MANAGED_BY, MANAGED_BY_LABEL, PASSWORD_HASH_ANNOTATION, SECRET_TYPE_LABEL, TENANT_LABEL, tenantNamespaceName, USER_LABEL } from '../labels.ts';
import { userSubject, type TenantSettings } from '../tenant/desired.ts';

export type TenantUser = NonNullable<Tenant['spec']['users']>[number];

export const CREDENTIALS_READER_ROLE = 'tenant-credentials-reader';

/** People who get an enrolment: everyone, unless the tenant disabled human access. */
export function enrolledUsers(tenant: Tenant): TenantUser[] {
  return (tenant.spec.security?.twoFactor ?? 'Optional') === 'Disabled' ? [] : tenant.spec.users ?? [];
}

function labels(tenant: Tenant, extra: Record<string, string>): Record<string, string> {
  return { [MANAGED_BY_LABEL]: MANAGED_BY, [TENANT_LABEL]: tenant.metadata.name ?? '', ...extra };
}

export interface Enrolment {
  totpSecret: string;
  password: string;
  passwordHash: string;
}

export async function newEnrolment(): Promise<Enrolment> {
  const password = generateCredential();
  return { totpSecret: generateTotpSecret(), password, passwordHash: await hashSecret(password) };
}

export function otpauthUri(issuer: string, user: TenantUser, totpSecret: string): string {
  return totpUri({ issuer, account: user.email, secret: totpSecret });
}

/** The enrolment Secret: created once, its secrets never regenerated (the authenticator app holds them). */
export async function enrolmentSecret(tenant: Tenant, user: TenantUser, enrolment: Enrolment, issuer: string): Promise<ApplyObject> {
  const uri = otpauthUri(issuer, user, enrolment.totpSecret);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: enrolmentSecretName(user.name),
      namespace: tenantNamespaceName(tenant),
      labels: labels(tenant, { [USER_LABEL]: user.name, [SECRET_TYPE_LABEL]: 'two-factor-enrolment' }),
      annotations: { [PASSWORD_HASH_ANNOTATION]: enrolment.passwordHash },
      ownerReferences: [controllerReference(tenant)],
    },
    type: 'Opaque',
    data: {
      username: base64(user.name),
      password: base64(enrolment.password),
      totpSecret: base64(enrolment.totpSecret),
      otpauthUri: base64(uri),
      'qr.png': base64(await totpQrPng(uri)),
    },
  };
}

/** A Role and RoleBinding per person: get on their own enrolment Secret, nothing else. */
export function enrolmentRbac(tenant: Tenant, user: TenantUser, settings: TenantSettings): ApplyObject[] {
  const name = enrolmentSecretName(user.name);
  const metadata = (kind: string) => ({
    name: `${name}-reader`,
    namespace: tenantNamespaceName(tenant),
    labels: labels(tenant, { [USER_LABEL]: user.name, [ACCESS_LABEL]: kind }),
    ownerReferences: [controllerReference(tenant)],
  });
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: metadata('enrolment'), rules: [{ apiGroups: [''], resources: ['secrets'], resourceNames: [name], verbs: ['get'] }] },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: metadata('enrolment'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-reader` },
      subjects: [userSubject(settings, user.email)],
    },
  ];
}

/**
 * Admins and operators read the devices' credentials Secrets, named one by one: an empty
 * resourceNames would grant every Secret, so without credentials there is no rule at all.
 */
export function credentialsRbac(tenant: Tenant, secretNames: string[], settings: TenantSettings): ApplyObject[] {
  const readers = (tenant.spec.users ?? []).filter((u) => u.role === 'admin' || u.role === 'operator');
  const metadata = {
    name: CREDENTIALS_READER_ROLE,
    namespace: tenantNamespaceName(tenant),
    labels: labels(tenant, { [ACCESS_LABEL]: 'credentials' }),
    ownerReferences: [controllerReference(tenant)],
  };
  const names = [...new Set(secretNames)].sort();
  return [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata, rules: names.length > 0 ? [{ apiGroups: [''], resources: ['secrets'], resourceNames: names, verbs: ['get'] }] : [] },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CREDENTIALS_READER_ROLE },
      subjects: readers.map((u) => userSubject(settings, u.email)),
    },
  ];
}

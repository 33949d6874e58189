/**
 * Access controller, one reconcile per Tenant: keeps the 2FA enrolments of the tenant's people and
 * the RBAC that lets each read only their own, and lets admins and operators read the devices'
 * credentials. Enrolment secrets are created once and kept; a person removed from the tenant, or a
 * tenant that disables human access, loses them.
 */
import type { V1Secret } from '@kubernetes/client-node';
import { API } from '../../api/refs.ts';
import type { Tenant } from '../../api/types.ts';
import { createObjectOnce, deleteObject } from '../../runtime/apply.ts';
import { Controller, type ReconcileResult } from '../../runtime/controller.ts';
import type { Informer } from '../../runtime/informer.ts';
import { K8S, type ResourceRef } from '../../runtime/kube/resource-ref.ts';
import { objectKey, type KubeObject } from '../../runtime/object.ts';
import { ensureApplied, type ControllerContext } from '../context.ts';
import { ACCESS_LABEL, enrolmentSecretName, MANAGED_BY, MANAGED_BY_LABEL, SECRET_TYPE_LABEL, TENANT_LABEL, tenantNamespaceName, USER_LABEL } from '../labels.ts';
import { tenantNamespaces, tenantOfOwnNamespace, type TenantNamespace } from '../tenants.ts';
import { credentialsRbac, enrolledUsers, enrolmentRbac, enrolmentSecret, newEnrolment } from './desired.ts';
import { terminationDue } from '../tenant/termination.ts';

type Secret = V1Secret & KubeObject;

interface AccessCaches {
  tenants: Informer<Tenant>;
  namespaces: Informer<TenantNamespace>;
  secrets: Informer<Secret>;
  roles: Informer<KubeObject>;
  bindings: Informer<KubeObject>;
}

/** Secrets of the tenant that its admins and operators may read: devices' and spaces' maintenance credentials. */
const READABLE_SECRET_TYPES = new Set(['endpoint-credentials', 'maintenance-credentials']);

export function createAccessController(ctx: ControllerContext, issuer: string): Controller {
  const accessSelector = `${MANAGED_BY_LABEL}=${MANAGED_BY},${ACCESS_LABEL}`;
  const caches: AccessCaches = {
    tenants: ctx.informers.for<Tenant>(API.Tenant),
    namespaces: tenantNamespaces(ctx.informers),
    secrets: ctx.informers.for<Secret>(K8S.Secret, { labelSelector: `${MANAGED_BY_LABEL}=${MANAGED_BY}` }),
    roles: ctx.informers.for<KubeObject>(K8S.Role, { labelSelector: accessSelector }),
    bindings: ctx.informers.for<KubeObject>(K8S.RoleBinding, { labelSelector: accessSelector }),
  };
  const controller = new Controller({ name: 'access', concurrency: 2, logger: ctx.logger, metrics: ctx.metrics, reconcile: (key) => reconcileAccess(ctx, caches, key, issuer) });
  const byTenantLabel = (object: KubeObject) => {
    const tenant = object.metadata.labels?.[TENANT_LABEL];
    return tenant ? [tenant] : [];
  };
  controller.watch(caches.tenants, (event) => [objectKey(event.object)]);
  controller.watch(caches.namespaces, (event) => byTenantLabel(event.object));
  controller.watch(caches.secrets, (event) => byTenantLabel(event.object));
  controller.watch(caches.roles, (event) => byTenantLabel(event.object));
  controller.watch(caches.bindings, (event) => byTenantLabel(event.object));
  return controller;
}

async function reconcileAccess(ctx: ControllerContext, caches: AccessCaches, key: string, issuer: string): Promise<ReconcileResult | undefined> {
  const tenant = caches.tenants.get(key);
  // A terminating tenant's people get nothing new: its namespace is on its way out (or gone).
  if (!tenant || terminationDue(tenant, ctx.now()).due) return undefined;
  const namespace = tenantNamespaceName(tenant);
  // Only into the namespace the tenant controller made for this tenant: until it exists there is
  // nowhere to write (its creation requeues us), and a namespace of the same name that is someone
  // else's (the operator's own, for a tenant called backup-system) gets nothing.
  if (tenantOfOwnNamespace(caches.tenants, caches.namespaces, namespace)?.metadata.name !== tenant.metadata.name) return undefined;

  const users = enrolledUsers(tenant);
  for (const user of users) {
    const name = enrolmentSecretName(user.name);
    if (!caches.secrets.get(`${namespace}/${name}`)) {
      const secret = await enrolmentSecret(tenant, user, await newEnrolment(), issuer);
      if (await createObjectOnce(ctx.client, K8S.Secret, namespace, secret)) {
        await ctx.recorder.normal(tenant, 'TwoFactorEnrolment', `created the 2FA enrolment of ${user.name} in Secret ${name}, readable only by them`);
      }
    }
  }

  const readable = caches.secrets
    .inNamespace(namespace)
    .filter((s) => READABLE_SECRET_TYPES.has(s.metadata.labels?.[SECRET_TYPE_LABEL] ?? ''))
    .map((s) => s.metadata.name ?? '');
  const desiredRbac = [...users.flatMap((u) => enrolmentRbac(tenant, u, ctx.settings)), ...credentialsRbac(tenant, readable, ctx.settings)];
  for (const object of desiredRbac) {
    const ref = object.kind === 'Role' ? K8S.Role : K8S.RoleBinding;
    const cache = object.kind === 'Role' ? caches.roles : caches.bindings;
    await ensureApplied(ctx, ref, object, cache.get(`${namespace}/${object.metadata.name}`));
  }

  // Prune what belongs to people no longer enrolled.
  const enrolledNames = new Set(users.map((u) => u.name));
  const stale = (object: KubeObject) => object.metadata.labels?.[USER_LABEL] !== undefined && !enrolledNames.has(object.metadata.labels[USER_LABEL]);
  const pruned: [ResourceRef, KubeObject][] = [
    ...caches.secrets.inNamespace(namespace).filter((s) => stale(s) && s.metadata.labels?.[SECRET_TYPE_LABEL] === 'two-factor-enrolment').map((o): [ResourceRef, KubeObject] => [K8S.Secret, o]),
    ...caches.roles.inNamespace(namespace).filter(stale).map((o): [ResourceRef, KubeObject] => [K8S.Role, o]),
    ...caches.bindings.inNamespace(namespace).filter(stale).map((o): [ResourceRef, KubeObject] => [K8S.RoleBinding, o]),
  ];
  for (const [ref, object] of pruned) {
    await deleteObject(ctx.client, ref, object.metadata.name ?? '', namespace);
    ctx.logger.info({ tenant: key, kind: ref.kind, name: object.metadata.name }, 'removed access of a person no longer enrolled');
  }
  return undefined;
}

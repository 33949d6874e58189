/**
 * The audit controller (leader only): keeps one PolicyReport per tenant in its namespace. A tenant's
 * change, or a gateway pod's or NetworkPolicy's, audits it again at once; otherwise every tenant is
 * audited once per interval, since the facts (a node relabelled, a Secret deleted) change without
 * any event this controller watches.
 */
import { API } from '../api/refs.ts';
import type { V1Node } from '@kubernetes/client-node';
import type { Datacenter, Tenant } from '../api/types.ts';
import { tenantNameFromNamespace } from '../admission/rules.ts';
import { COMPONENT_LABEL, COUNTRY_LABEL, GATEWAY_COMPONENT } from '../controllers/labels.ts';
import type { ControllerContext } from '../controllers/context.ts';
import { Controller, TemporaryError, type ReconcileResult } from '../runtime/controller.ts';
import { isNotFound } from '../runtime/kube/errors.ts';
import { K8S } from '../runtime/kube/resource-ref.ts';
import { objectKey, type KubeObject } from '../runtime/object.ts';
import type { ClusterLookups } from './gather.ts';
import { auditTenant } from './publish.ts';

export interface AuditControllerOptions {
  intervalMs: number;
}

export function createAuditController(ctx: ControllerContext, options: AuditControllerOptions): Controller {
  const tenants = ctx.informers.for<Tenant>(API.Tenant);
  const pods = ctx.informers.for<KubeObject>(K8S.Pod, { labelSelector: `${COMPONENT_LABEL}=${GATEWAY_COMPONENT}` });
  const policies = ctx.informers.for<KubeObject>(K8S.NetworkPolicy);
  // Shared with the datacenter controller and the webhook: the fleet's nodes and Datacenters are
  // watched once, not read again for every tenant.
  const nodes = ctx.informers.for<V1Node & KubeObject>(K8S.Node);
  const datacenters = ctx.informers.for<Datacenter>(API.Datacenter);
  const lookups: ClusterLookups = {
    nodeCountry: (name) => Promise.resolve(nodes.get(name)?.metadata.labels?.[COUNTRY_LABEL]),
    datacenter: (name) => Promise.resolve(datacenters.get(name)),
  };

  const reconcile = async (key: string): Promise<ReconcileResult | undefined> => {
    const tenant = tenants.get(key);
    if (!tenant || tenant.metadata.deletionTimestamp) return undefined;
    try {
      const { written, report } = await auditTenant(ctx.client, tenant, ctx.settings, ctx.now(), lookups);
      if (written) ctx.logger.info({ tenant: key, summary: report?.summary }, 'audit report published');
    } catch (error) {
      // Without the PolicyReport CRD there is nothing to write to: say so, try again later.
      if (isNotFound(error)) throw new TemporaryError('the PolicyReport CRD (wgpolicyk8s.io/v1alpha2) is not installed; install it or enable the chart\'s policyReport.installCrd', options.intervalMs);
      throw error;
    }
    return { requeueAfterMs: options.intervalMs };
  };

  const controller = new Controller({ name: 'audit', concurrency: 1, logger: ctx.logger, metrics: ctx.metrics, reconcile });
  const byNamespace = (object: KubeObject) => {
    const tenant = tenantNameFromNamespace(object.metadata.namespace ?? '');
    return tenant ? [tenant] : [];
  };
  controller.watch(tenants, (event) => [objectKey(event.object)]);
  controller.watch(pods, (event) => byNamespace(event.object));
  controller.watch(policies, (event) => byNamespace(event.object));
  return controller;
}

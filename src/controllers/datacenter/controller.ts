/** Datacenter controller: reports which Ready nodes belong to each datacenter and the spaces it hosts. */
import type { V1Node, V1StorageClass } from '@kubernetes/client-node';
import { API } from '../../api/refs.ts';
import type { BackupSpace, Datacenter } from '../../api/types.ts';
import { applyStatus } from '../../runtime/apply.ts';
import { Controller } from '../../runtime/controller.ts';
import { K8S } from '../../runtime/kube/resource-ref.ts';
import { objectKey, type KubeObject } from '../../runtime/object.ts';
import type { ControllerContext } from '../context.ts';
import { datacenterStatus } from './status.ts';
import { warnIfNewlyStalled } from '../../runtime/conditions.ts';

export function createDatacenterController(ctx: ControllerContext): Controller {
  const datacenters = ctx.informers.for<Datacenter>(API.Datacenter);
  const nodes = ctx.informers.for<V1Node & KubeObject>(K8S.Node);
  const storageClasses = ctx.informers.for<V1StorageClass & KubeObject>(K8S.StorageClass);
  const spaces = ctx.informers.for<BackupSpace>(API.BackupSpace);
  const controller = new Controller({
    name: 'datacenter',
    concurrency: 1,
    logger: ctx.logger,
    metrics: ctx.metrics,
    failureStatus: { client: ctx.client, ref: API.Datacenter },
    reconcile: async (key) => {
      const datacenter = datacenters.get(key);
      if (!datacenter) return;
      const status = datacenterStatus(datacenter, {
        nodes: nodes.list(),
        storageClassExists: storageClasses.get(datacenter.spec.storage.storageClassName) !== undefined,
        spaces: spaces.list(),
      }, ctx.now());
      await applyStatus(ctx.client, API.Datacenter, datacenter, status);
      await warnIfNewlyStalled(ctx, datacenter, datacenter.status?.conditions, status.conditions);
    },
  });
  const all = () => datacenters.list().map((d) => objectKey(d));
  controller.watch(datacenters, (event) => [objectKey(event.object)]);
  // Datacenters are few; any node or storage class change re-evaluates them all.
  controller.watch(nodes, (event) => (event.type === 'resync' ? [] : all()));
  controller.watch(storageClasses, (event) => (event.type === 'resync' ? [] : all()));
  controller.watch(spaces, (event) => [event.object.spec.datacenter, event.old?.spec.datacenter].filter((d): d is string => !!d));
  return controller;
}

/** A Datacenter's status as a pure function of the nodes, storage and spaces observed. */
import type { V1Node } from '@kubernetes/client-node';
import type { DatacenterStatus } from '../../api/datacenter.ts';
import type { BackupSpace, Datacenter } from '../../api/types.ts';
import { healthConditions, type Health } from '../../runtime/conditions.ts';
import { matchesSelector } from '../../runtime/selector.ts';

export function isNodeReady(node: V1Node): boolean {
  const schedulable = !node.spec?.unschedulable;
  return schedulable && (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

interface DatacenterNodes {
  matching: V1Node[];
  ready: V1Node[];
}

export function datacenterNodes(datacenter: Datacenter, nodes: readonly V1Node[]): DatacenterNodes {
  const matching = nodes.filter((n) => matchesSelector(n.metadata?.labels, datacenter.spec.nodeSelector));
  return { matching, ready: matching.filter(isNodeReady) };
}

export interface DatacenterObservation {
  nodes: readonly V1Node[];
  storageClassExists: boolean;
  spaces: readonly BackupSpace[];
}

function datacenterHealth(datacenter: Datacenter, { matching, ready }: DatacenterNodes, storageClassExists: boolean): Health {
  if (matching.length === 0) {
    return { state: 'stalled', reason: 'NoMatchingNodes', message: 'no node matches spec.nodeSelector; check the labels of the datacenter\'s nodes' };
  }
  if (ready.length === 0) {
    return { state: 'stalled', reason: 'NoReadyNodes', message: `${matching.length} node(s) match spec.nodeSelector but none is Ready and schedulable` };
  }
  if (!storageClassExists) {
    return { state: 'stalled', reason: 'StorageClassNotFound', message: `StorageClass ${datacenter.spec.storage.storageClassName} does not exist` };
  }
  return { state: 'ready', reason: 'NodesReady', message: `${ready.length} of ${matching.length} node(s) ready in ${datacenter.spec.country}` };
}

export function datacenterStatus(datacenter: Datacenter, observation: DatacenterObservation, now: Date): DatacenterStatus {
  const nodes = datacenterNodes(datacenter, observation.nodes);
  const { ready } = nodes;
  const hosted = observation.spaces.filter((s) => s.spec.datacenter === datacenter.metadata.name);
  return {
    observedGeneration: datacenter.metadata.generation,
    conditions: healthConditions(datacenter.status?.conditions, datacenterHealth(datacenter, nodes, observation.storageClassExists), datacenter.metadata.generation, now),
    readyNodes: ready.length,
    nodes: ready.map((n) => n.metadata?.name ?? '').sort().slice(0, 256),
    spaces: hosted.length,
    addressesAllocated: hosted.filter((s) => s.status?.address).length,
  };
}

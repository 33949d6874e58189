/** A Datacenter's status as a pure function of the nodes, storage and spaces observed. */
import type { V1Node } from '@kubernetes/client-node';
import type { DatacenterStatus } from '../../api/datacenter.ts';
import type { BackupSpace, Datacenter } from '../../api/types.ts';
import { healthConditions, type Health } from '../../runtime/conditions.ts';
import { COUNTRY_LABEL } from '../labels.ts';
import { describeNodeCountry, nodeName, selectNodes } from './nodes.ts';

export function isNodeReady(node: V1Node): boolean {
  const schedulable = !node.spec?.unschedulable;
  return schedulable && (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

interface DatacenterNodes {
  matching: V1Node[];
  /** Matched nodes of another country, or with no country label: never counted, never pinned to. */
  foreign: V1Node[];
  /** Matched nodes of the datacenter's country. */
  own: V1Node[];
  /** Of those, the Ready and schedulable ones. */
  ready: V1Node[];
}

export function datacenterNodes(datacenter: Datacenter, nodes: readonly V1Node[]): DatacenterNodes {
  const { matching, own, foreign } = selectNodes(datacenter, nodes);
  return { matching, own, foreign, ready: own.filter(isNodeReady) };
}

export interface DatacenterObservation {
  nodes: readonly V1Node[];
  storageClassExists: boolean;
  spaces: readonly BackupSpace[];
}

function listed(values: readonly string[], max = 5): string {
  const shown = values.slice(0, max).join(', ');
  return values.length > max ? `${shown} and ${values.length - max} more` : shown;
}

function datacenterHealth(datacenter: Datacenter, { matching, own, foreign, ready }: DatacenterNodes, storageClassExists: boolean): Health {
  const country = datacenter.spec.country;
  if (matching.length === 0) {
    return { state: 'stalled', reason: 'NoMatchingNodes', message: 'no node matches spec.nodeSelector; check the labels of the datacenter\'s nodes' };
  }
  if (foreign.length > 0) {
    const names = foreign.map(describeNodeCountry).sort();
    return {
      state: 'stalled',
      reason: 'ForeignNodes',
      message: `spec.nodeSelector matches ${foreign.length} node(s) outside ${country}: ${listed(names)}; the datacenter counts and pins its spaces only to nodes labelled ${COUNTRY_LABEL}=${country} (${ready.length} of ${own.length} ready); fix spec.nodeSelector or the nodes' labels`,
    };
  }
  if (ready.length === 0) {
    return { state: 'stalled', reason: 'NoReadyNodes', message: `${own.length} node(s) match spec.nodeSelector but none is Ready and schedulable` };
  }
  if (!storageClassExists) {
    return { state: 'stalled', reason: 'StorageClassNotFound', message: `StorageClass ${datacenter.spec.storage.storageClassName} does not exist` };
  }
  return { state: 'ready', reason: 'NodesReady', message: `${ready.length} of ${own.length} node(s) ready in ${country}` };
}

export function datacenterStatus(datacenter: Datacenter, observation: DatacenterObservation, now: Date): DatacenterStatus {
  const nodes = datacenterNodes(datacenter, observation.nodes);
  const { ready } = nodes;
  const hosted = observation.spaces.filter((s) => s.spec.datacenter === datacenter.metadata.name);
  return {
    observedGeneration: datacenter.metadata.generation,
    conditions: healthConditions(datacenter.status?.conditions, datacenterHealth(datacenter, nodes, observation.storageClassExists), datacenter.metadata.generation, now),
    readyNodes: ready.length,
    nodes: ready.map(nodeName).sort().slice(0, 256),
    spaces: hosted.length,
    addressesAllocated: hosted.filter((s) => s.status?.address).length,
  };
}

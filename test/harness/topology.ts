/**
 * The simulated provider footprint every local cluster gets: datacenters in three countries, several
 * kwok nodes each, labelled the way a real provider labels its nodes. Tests and the demo import this
 * so that "a pod of Italy's Milan datacenter" means the same nodes everywhere.
 */
import { COUNTRY_LABEL } from '../../src/controllers/labels.ts';

// The operator's own: a datacenter counts and pins to nodes of its country by this label.
export { COUNTRY_LABEL };
export const REGION_LABEL = 'topology.kubernetes.io/region';
export const ZONE_LABEL = 'topology.kubernetes.io/zone';
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';

export interface SimulatedDatacenter {
  /** Datacenter name, used as the zone label value. */
  zone: string;
  region: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  nodes: number;
}

export const SIMULATED_DATACENTERS: readonly SimulatedDatacenter[] = [
  { zone: 'it-mil1', region: 'it-north', country: 'IT', nodes: 3 },
  { zone: 'it-rom1', region: 'it-central', country: 'IT', nodes: 3 },
  { zone: 'de-fra1', region: 'de-central', country: 'DE', nodes: 3 },
  { zone: 'fr-par1', region: 'fr-north', country: 'FR', nodes: 3 },
];

/**
 * StorageClass of the statically provisioned volumes the harness creates in every datacenter: network
 * volumes (NFS) reachable from every node of their datacenter and from no other, like CephFS or
 * Longhorn RWX in a real one, so a space's replicas can share a volume on distinct nodes.
 */
export const DATACENTER_STORAGE_CLASS = 'datacenter-storage';
export const VOLUMES_PER_DATACENTER = 24;
export const VOLUME_SIZE = '200Gi';

export interface SimulatedNode {
  name: string;
  labels: Record<string, string>;
}

export function simulatedNodes(datacenters: readonly SimulatedDatacenter[] = SIMULATED_DATACENTERS): SimulatedNode[] {
  return datacenters.flatMap((dc) =>
    Array.from({ length: dc.nodes }, (_, index) => {
      const name = `${dc.zone}-node-${index + 1}`;
      return {
        name,
        labels: {
          [HOSTNAME_LABEL]: name,
          [REGION_LABEL]: dc.region,
          [ZONE_LABEL]: dc.zone,
          [COUNTRY_LABEL]: dc.country,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          'type': 'kwok',
        },
      };
    }),
  );
}

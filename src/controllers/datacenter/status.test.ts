import type { V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { datacenter } from '../../../test/support/objects.ts';
import { datacenterStatus } from './status.ts';

const now = new Date('2026-12-02T12:00:00Z');

function node(name: string, labels: Record<string, string>, ready = true): V1Node {
  return { metadata: { name, labels }, status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] } };
}

/** Three nodes in Paris, two in Milan, one unlabelled, all in region "south" for the wide selectors below. */
const nodes = [
  node('fr-par1-node-1', { zone: 'fr-par1', region: 'south', 'tenantbackup.io/country': 'FR' }),
  node('fr-par1-node-2', { zone: 'fr-par1', region: 'south', 'tenantbackup.io/country': 'FR' }),
  node('fr-par1-node-3', { zone: 'fr-par1', region: 'south', 'tenantbackup.io/country': 'FR' }, false),
  node('it-mil1-node-1', { zone: 'it-mil1', region: 'south', 'tenantbackup.io/country': 'IT' }),
  node('it-mil1-node-2', { zone: 'it-mil1', region: 'south', 'tenantbackup.io/country': 'IT' }),
  node('stray', { zone: 'it-mil1', region: 'south' }),
];

function statusOf(country: string, matchLabels: Record<string, string>) {
  const dc = datacenter('paris', country, { nodeSelector: { matchLabels } });
  const status = datacenterStatus(dc, { nodes, storageClassExists: true, spaces: [] }, now);
  const condition = (type: string) => status.conditions?.find((c) => c.type === type);
  return { status, ready: condition('Ready'), stalled: condition('Stalled') };
}

describe('datacenter status', () => {
  it('counts the Ready nodes its selector matches in its own country', () => {
    const { status, ready, stalled } = statusOf('FR', { zone: 'fr-par1' });
    expect(status).toMatchObject({ readyNodes: 2, nodes: ['fr-par1-node-1', 'fr-par1-node-2'] });
    expect(ready).toMatchObject({ status: 'True', reason: 'NodesReady', message: '2 of 3 node(s) ready in FR' });
    expect(stalled).toBeUndefined();
  });

  it('is Stalled (ForeignNodes) when its selector matches nodes of another country, naming them, and counts only its own', () => {
    const { status, ready, stalled } = statusOf('FR', { region: 'south' });
    expect(stalled).toMatchObject({ status: 'True', reason: 'ForeignNodes' });
    expect(stalled?.message).toBe('spec.nodeSelector matches 3 node(s) outside FR: it-mil1-node-1 (IT), it-mil1-node-2 (IT), stray (no tenantbackup.io/country label); the datacenter counts and pins its spaces only to nodes labelled tenantbackup.io/country=FR (2 of 3 ready); fix spec.nodeSelector or the nodes\' labels');
    expect(ready?.status).toBe('False');
    expect(status).toMatchObject({ readyNodes: 2, nodes: ['fr-par1-node-1', 'fr-par1-node-2'] });
  });

  it('counts no node at all when the selector matches only another country\'s nodes', () => {
    const { status, stalled } = statusOf('FR', { zone: 'it-mil1' });
    expect(stalled).toMatchObject({ status: 'True', reason: 'ForeignNodes' });
    expect(stalled?.message).toContain('matches 3 node(s) outside FR: it-mil1-node-1 (IT), it-mil1-node-2 (IT), stray (no tenantbackup.io/country label)');
    expect(status).toMatchObject({ readyNodes: 0, nodes: [] });
  });

  it('still says when nothing matches at all', () => {
    expect(statusOf('FR', { zone: 'nowhere' }).stalled).toMatchObject({ status: 'True', reason: 'NoMatchingNodes' });
  });
});

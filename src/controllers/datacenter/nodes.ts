/**
 * Which nodes belong to a datacenter (S7): those its selector matches and that stand in its country,
 * by the provider's country label. A node the selector matches in another country, or with no
 * country label, is foreign: never counted, never pinned to. Pure functions, shared by the
 * Datacenter's status, the gateways' node affinity and the admission of Datacenter edits.
 */
import type { Datacenter } from '../../api/types.ts';
import { matchesSelector, selectorToNodeSelectorTerm, type LabelSelector } from '../../runtime/selector.ts';
import { COUNTRY_LABEL } from '../labels.ts';

/** What these rules read of a node: its name and labels (a V1Node is one). */
export interface NodeMeta {
  metadata?: { name?: string; labels?: Record<string, string> };
}

export function nodeName(node: NodeMeta): string {
  return node.metadata?.name ?? '';
}

/** The node's country as its label says, or undefined when it has none. */
export function nodeCountry(node: NodeMeta): string | undefined {
  return node.metadata?.labels?.[COUNTRY_LABEL];
}

export function selectorMatches(selector: LabelSelector, node: NodeMeta): boolean {
  return matchesSelector(node.metadata?.labels, selector);
}

export interface SelectedNodes<N extends NodeMeta> {
  /** Every node the selector matches. */
  matching: N[];
  /** Those of them in the datacenter's country: the datacenter's nodes. */
  own: N[];
  /** Those in another country or with no country label. */
  foreign: N[];
}

export function selectNodes<N extends NodeMeta>(datacenter: Pick<Datacenter, 'spec'>, nodes: readonly N[], selector: LabelSelector = datacenter.spec.nodeSelector): SelectedNodes<N> {
  const matching = nodes.filter((n) => selectorMatches(selector, n));
  const own = matching.filter((n) => nodeCountry(n) === datacenter.spec.country);
  return { matching, own, foreign: matching.filter((n) => nodeCountry(n) !== datacenter.spec.country) };
}

/** `it-mil1-node-1 (IT)`, or `(no tenantbackup.io/country label)` for a node without one. */
export function describeNodeCountry(node: NodeMeta): string {
  const country = nodeCountry(node);
  return `${nodeName(node)} (${country ?? `no ${COUNTRY_LABEL} label`})`;
}

/**
 * The node affinity term of everything pinned to the datacenter: its selector AND its country, so a
 * selector that also matches another country's nodes still never schedules there.
 */
export function datacenterNodeSelectorTerm(datacenter: Pick<Datacenter, 'spec'>): ReturnType<typeof selectorToNodeSelectorTerm> {
  const term = selectorToNodeSelectorTerm(datacenter.spec.nodeSelector);
  return { matchExpressions: [...term.matchExpressions, { key: COUNTRY_LABEL, operator: 'In', values: [datacenter.spec.country] }] };
}

/**
 * kstatus's Compute (sigs.k8s.io/cli-utils/pkg/kstatus/status) for a custom resource, ported rule for
 * rule: Flux's health checks and `kubectl wait`-style tools read our objects through it.
 *   deletionTimestamp set                       -> Terminating
 *   status.observedGeneration present and != generation -> InProgress
 *   first condition Reconciling=True            -> InProgress
 *   first condition Stalled=True                -> Failed
 *   otherwise (also: no status at all, or Ready=False alone) -> Current
 */
export type KStatus = 'InProgress' | 'Failed' | 'Current' | 'Terminating';

interface Obj {
  metadata: { generation?: number; deletionTimestamp?: string };
  status?: { observedGeneration?: number; conditions?: readonly { type: string; status: string }[] };
}

export function kstatusOf(obj: Obj): KStatus {
  if (obj.metadata.deletionTimestamp) return 'Terminating';
  const generation = obj.metadata.generation;
  const observed = obj.status?.observedGeneration;
  if (generation !== undefined && observed !== undefined && observed !== generation) return 'InProgress';
  for (const c of obj.status?.conditions ?? []) {
    if (c.type === 'Reconciling' && c.status === 'True') return 'InProgress';
    if (c.type === 'Stalled' && c.status === 'True') return 'Failed';
  }
  return 'Current';
}

/**
 * Vitest global setup of the integration project: one real control plane for the whole suite, or the
 * cluster KUBECONFIG points to when it is set (its nodes must carry the labels of topology.ts).
 */
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { startCluster, stopCluster } from './controlplane.ts';
import { startVolumeRecycler } from './volume-recycler.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    /** Directory of the cluster this run started; empty when the suite runs against an existing cluster. */
    clusterDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const existing = process.env.KUBECONFIG;
  if (existing) {
    console.log(`integration tests use the existing cluster of KUBECONFIG=${existing}`);
    project.provide('kubeconfig', existing);
    project.provide('clusterDir', '');
    return startVolumeRecycler(existing);
  }
  const name = `test-${process.pid}-${randomBytes(3).toString('hex')}`;
  const state = await startCluster({ name });
  console.log(`control plane '${name}' started in ${state.startSeconds}s at ${state.server}`);
  project.provide('kubeconfig', state.kubeconfig);
  project.provide('clusterDir', state.dir);
  const stopRecycler = startVolumeRecycler(state.kubeconfig);
  return async () => {
    await stopRecycler();
    await stopCluster(state.dir, { keepLogs: process.env.KEEP_CLUSTER_LOGS === '1' });
  };
}

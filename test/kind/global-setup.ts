/**
 * Global setup of the kind suite: a kind cluster built offline by hack/kind (or from upstream images
 * where a registry answers), our image loaded into it, and the operator installed by our own chart,
 * as a user installs it. Torn down at the end unless KEEP_KIND_CLUSTER=1.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { kindPrerequisites } from './prerequisites.ts';
import { waitForQuotaOfOurKinds } from './quota-accounting.ts';
import { installOperator, OPERATOR_NAMESPACE, RELEASE } from './release.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
const clusterScript = join(root, 'hack/kind/cluster.sh');

declare module 'vitest' {
  export interface ProvidedContext {
    kindKubeconfig: string;
    kindCluster: string;
    /** The image built from our Dockerfile and loaded into the nodes, as repository:tag. */
    operatorImage: string;
    /** The image of the suite's client pods: Node 24 and the real restic client. */
    clientImage: string;
  }
}

async function clusterUp(name: string): Promise<string> {
  const { stdout } = await run('bash', [clusterScript, 'up', name], { maxBuffer: 64 * 1024 * 1024, timeout: 80 * 60_000 }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`hack/kind/cluster.sh up ${name} failed:\n${error.stderr ?? error.message}`);
  });
  return stdout.trim().split('\n').at(-1) ?? '';
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await kindPrerequisites();
  // KIND_CLUSTER_NAME of a cluster cluster.sh made earlier (and left up): reuse it instead of making one.
  const reuse = process.env.KIND_CLUSTER_NAME || undefined;
  const name = reuse ?? `tbo-${randomBytes(3).toString('hex')}`;
  const started = Date.now();
  const kubeconfig = reuse
    ? (await run('bash', [clusterScript, 'kubeconfig', name])).stdout.trim()
    : await clusterUp(name);
  const operatorImage = (await readFile(join(kubeconfig, '..', 'operator-image'), 'utf8')).trim();
  const clientImage = (await readFile(join(kubeconfig, '..', 'client-image'), 'utf8')).trim();
  console.log(`kind cluster '${name}' up in ${Math.round((Date.now() - started) / 1000)}s; operator image ${operatorImage}`);
  await installOperator(kubeconfig, operatorImage);
  console.log(`operator installed by helm as release ${RELEASE} in ${OPERATOR_NAMESPACE}`);
  const quotaSeconds = await waitForQuotaOfOurKinds(KubeClient.load(kubeconfig));
  console.log(`the control plane accounts quotas of our kinds (after ${quotaSeconds}s)`);
  project.provide('kindKubeconfig', kubeconfig);
  project.provide('kindCluster', name);
  project.provide('operatorImage', operatorImage);
  project.provide('clientImage', clientImage);
  return async () => {
    if (reuse || process.env.KEEP_KIND_CLUSTER === '1') {
      console.log(`kind cluster '${name}' kept: KUBECONFIG=${kubeconfig}; remove it with: bash hack/kind/cluster.sh down ${name}`);
      return;
    }
    await run('bash', [clusterScript, 'down', name]);
  };
}

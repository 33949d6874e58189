/**
 * `make demo`: a local control plane with simulated datacenters in Italy, Germany and France, the
 * operator running against it (webhook included), and the examples applied. Leaves everything
 * running; `make demo-stop` stops it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { API } from '../src/api/refs.ts';
import type { Tenant } from '../src/api/types.ts';
import { KubeClient } from '../src/runtime/kube/client.ts';
import { collectionPath, K8S } from '../src/runtime/kube/resource-ref.ts';
import { attachProcess, clusterDir, defaultBinDir, projectRoot, startCluster, stopCluster } from '../test/harness/controlplane.ts';
import { freePort } from '../test/harness/ports.ts';
import { installCrds } from '../test/support/crds.ts';
import { eventually } from '../test/support/kube.ts';

const NAME = 'demo';
const OPERATOR_NAMESPACE = 'tenant-backup-system';
const kubectlBinary = join(defaultBinDir, 'kubectl');

function kubectl(kubeconfig: string, ...args: string[]): string {
  return execFileSync(kubectlBinary, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8' });
}

async function main(): Promise<void> {
  const dir = clusterDir(NAME);
  if (existsSync(join(dir, 'cluster.json'))) {
    console.error(`a demo cluster exists in ${dir}; replacing it`);
    await stopCluster(dir);
  }
  const state = await startCluster({ name: NAME });
  console.error(`control plane started in ${state.startSeconds}s`);
  const client = KubeClient.load(state.kubeconfig);
  await installCrds(client);
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: OPERATOR_NAMESPACE } } });

  const webhookPort = await freePort();
  await attachProcess(dir, 'operator', process.execPath, [
    join(projectRoot, 'src/cli/main.ts'), 'operator',
    '--kubeconfig', state.kubeconfig,
    '--namespace', OPERATOR_NAMESPACE,
    '--webhook-bind-address', `127.0.0.1:${webhookPort}`,
    '--webhook-url', `https://127.0.0.1:${webhookPort}`,
    '--metrics-bind-address', '127.0.0.1:0',
    '--health-probe-bind-address', '127.0.0.1:0',
    '--gateway-image', 'tenant-backup-operator:dev',
  ]);
  await eventually('the webhook to be registered', async () => (kubectl(state.kubeconfig, 'get', 'validatingwebhookconfigurations', '-o', 'name').includes('tenant-backup-operator') ? true : undefined), { timeoutMs: 60_000 });

  const examples = join(projectRoot, 'examples');
  kubectl(state.kubeconfig, 'apply', '--server-side', '-f', join(examples, '01-datacenters.yaml'), '-f', join(examples, '02-tenants.yaml'));
  await eventually('the tenants to be Ready', async () => {
    const tenants = await client.request<{ items: Tenant[] }>({ method: 'GET', path: collectionPath(API.Tenant) });
    return tenants.items.length >= 3 && tenants.items.every((t) => t.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True')) ? true : undefined;
  }, { timeoutMs: 120_000 });
  kubectl(state.kubeconfig, 'apply', '--server-side', '-f', examples);
  await eventually('the spaces and endpoints to be Ready', async () => {
    const ready = (kind: string) => kubectl(state.kubeconfig, 'get', kind, '-A', '-o', 'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}').split(' ').filter(Boolean);
    const spaces = ready('backupspaces');
    const endpoints = ready('endpoints.tenantbackup.io');
    return spaces.length >= 3 && endpoints.length >= 7 && [...spaces, ...endpoints].every((s) => s === 'True') ? true : undefined;
  }, { timeoutMs: 120_000 });

  const logs = join(dir, 'logs');
  process.stdout.write([
    `KUBECONFIG=${state.kubeconfig}`,
    '',
    kubectl(state.kubeconfig, 'get', 'nodes', '-L', 'tenantbackup.io/country', '-L', 'topology.kubernetes.io/region', '-L', 'topology.kubernetes.io/zone'),
    kubectl(state.kubeconfig, 'get', 'tenantbackup', '-A'),
    kubectl(state.kubeconfig, 'get', 'pods', '-A', '-l', 'app.kubernetes.io/component=gateway', '-o', 'wide'),
    `The operator runs in the background (log: ${join(logs, 'operator.log')}).`,
    `Try: export KUBECONFIG=${state.kubeconfig}; ${kubectlBinary} describe backupspace -n tenant-acme vault`,
    'Stop everything with: make demo-stop',
    '',
  ].join('\n'));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});

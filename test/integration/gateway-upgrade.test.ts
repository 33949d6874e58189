/**
 * Controlled gateway upgrades (S3) on the real control plane with kwok nodes: the operator restarts
 * with a new gateway image. A space under the Automatic policy rolls to it and says UpToDate=True; a
 * space whose own policy is Manual, and one in a datacenter whose spec.gatewayUpgrade is Manual, keep
 * the image their Deployments run (the new operator process has never seen them: it reads what the
 * API server holds) and say UpToDate=False/UpgradeAvailable while staying Ready, until approved — by
 * the annotation naming the new image, or by the datacenter switched to Automatic — and then roll.
 */
import type { V1Deployment, V1PodDisruptionBudget } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace, Datacenter } from '../../src/api/types.ts';
import { APPROVE_UPGRADE_ANNOTATION, deploymentRolledOut, gatewayImageOf } from '../../src/controllers/backupspace/upgrade.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { freePort } from '../harness/ports.ts';
import { ZONE_LABEL } from '../harness/topology.ts';
import { condition, createIfAbsent, createReadyTenant, createSpace, ensureDatacenters, mergePatch, readObject, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, sleep, uniqueName } from '../support/kube.ts';
import { datacenter as datacenterObject } from '../support/objects.ts';
import { loopbackKeyServiceArgs, OperatorProcess } from '../support/operator.ts';

const OLD = 'registry.invalid/tenant-backup-operator:1.0.0';
const NEW = `registry.invalid/tenant-backup-operator@sha256:${'7c'.repeat(32)}`;
const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-upgrade');
const tenant = uniqueName('upgrade');
const manualDatacenter = uniqueName('de-manual');
let namespace = '';
let operator: OperatorProcess | undefined;

let keyPort = 0;
// Both processes bind the key service to one port, as pods do (a fixed port in the chart): the
// gateway's arguments name it, so a port of its own per process would roll every space on restart.
const startOperator = (image: string) => OperatorProcess.start(kubeconfigPath, ['--namespace', operatorNamespace, '--gateway-image', image, ...loopbackKeyServiceArgs(keyPort)]);
const gateway = (space: string) => readObject<V1Deployment>(client, K8S.Deployment, `${space}-gateway`, namespace);

/** The space once its Deployment asks for `image`, has rolled out, and the space says so. */
async function upToDateOn(space: string, image: string): Promise<{ space: BackupSpace; deployment: V1Deployment }> {
  return eventually(`${space} up to date on ${image}`, async () => {
    const deployment = await gateway(space);
    const object = await readObject<BackupSpace>(client, API.BackupSpace, space, namespace);
    const upToDate = condition(object, 'UpToDate');
    if (!deployment || !object) throw new Error(`${space}: Deployment ${deployment ? 'present' : 'absent'}, space ${object ? 'present' : 'absent'}`);
    // Thrown rather than returned, so that a timeout says what was seen last.
    if (gatewayImageOf(deployment) !== image) throw new Error(`${space}: the Deployment asks for ${gatewayImageOf(deployment)}`);
    if (!deploymentRolledOut(deployment, 2)) throw new Error(`${space}: not rolled out, Deployment status ${JSON.stringify(deployment.status)}`);
    if (upToDate?.status !== 'True' || !upToDate.message.includes(image)) throw new Error(`${space}: UpToDate ${JSON.stringify(upToDate)}`);
    return { space: object, deployment };
  }, { timeoutMs: 120_000 });
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  keyPort = await freePort();
  // A second datacenter over Frankfurt's nodes, whose gateways wait for the provider.
  await createIfAbsent(client, API.Datacenter, datacenterObject(manualDatacenter, 'DE', { nodeSelector: { matchLabels: { [ZONE_LABEL]: 'de-fra1' } }, gatewayUpgrade: 'Manual' }));
  operator = await startOperator(OLD);
  await waitForCondition<Datacenter>(client, API.Datacenter, manualDatacenter, undefined, 'Ready', 'True');
  ({ namespace } = await createReadyTenant(client, tenant, { residency: { countries: ['IT', 'DE'] }, quotas: { storage: '100Gi', spaces: 3, endpoints: 3 } }));
  await createSpace(client, 'auto', namespace, { size: '1Gi', datacenter: 'it-mil1', replicas: 2 });
  await createSpace(client, 'held', namespace, { size: '1Gi', datacenter: 'it-mil1', replicas: 2, upgrade: { policy: 'Manual' } });
  await createSpace(client, 'dcheld', namespace, { size: '1Gi', datacenter: manualDatacenter, replicas: 2 });
});

afterAll(async () => {
  await removeTenant(client, tenant);
  await operator?.stop();
  await client.request({ method: 'DELETE', path: objectPath(API.Datacenter, manualDatacenter) }).catch(() => undefined);
});

describe('a new gateway image', () => {
  it('rolls Automatic spaces at once and holds Manual ones on the image their Deployments run until approved', async () => {
    // Every space starts on the image of the operator that built it, whatever its policy.
    for (const space of ['auto', 'held', 'dcheld']) {
      const { space: object } = await upToDateOn(space, OLD);
      expect(condition(object, 'Ready')?.status).toBe('True');
      expect(condition(object, 'UpToDate')?.reason).toBe('CurrentImage');
    }
    const heldGeneration = (await gateway('held'))?.metadata?.generation;

    // The operator upgraded: a new process, with nothing in memory of the old one.
    await operator?.stop();
    operator = await startOperator(NEW);

    await upToDateOn('auto', NEW);
    // The roll went through the space's disruption budget, which is still there.
    expect(await readObject<V1PodDisruptionBudget>(client, K8S.PodDisruptionBudget, 'auto-gateway', namespace).then((b) => b?.spec?.maxUnavailable)).toBe(1);

    for (const [space, because] of [['held', 'spec.upgrade.policy is Manual'], ['dcheld', `datacenter ${manualDatacenter} has spec.gatewayUpgrade Manual`]] as const) {
      const object = await waitForCondition<BackupSpace>(client, API.BackupSpace, space, namespace, 'UpToDate', 'False', 'UpgradeAvailable', 60_000);
      expect(condition(object, 'UpToDate')?.message).toContain(`the gateway runs ${OLD}; ${NEW} is available and held back because ${because}`);
      expect(condition(object, 'Ready')?.status).toBe('True');
      expect(object.status?.phase).toBe('Ready');
      expect(gatewayImageOf(await gateway(space))).toBe(OLD);
    }
    // Not a race the held space would lose a moment later: it stays as it was.
    await sleep(5_000);
    expect(gatewayImageOf(await gateway('held'))).toBe(OLD);
    expect((await gateway('held'))?.metadata?.generation).toBe(heldGeneration);

    // An approval of another image lets nothing through…
    await mergePatch(client, API.BackupSpace, 'held', namespace, { metadata: { annotations: { [APPROVE_UPGRADE_ANNOTATION]: 'registry.invalid/tenant-backup-operator:0.9.0' } } });
    await eventually('the stale approval to be reported', async () => (condition(await readObject<BackupSpace>(client, API.BackupSpace, 'held', namespace), 'UpToDate')?.message.includes('the approval names registry.invalid/tenant-backup-operator:0.9.0') ? true : undefined));
    expect(gatewayImageOf(await gateway('held'))).toBe(OLD);
    // …the current one rolls the space.
    await mergePatch(client, API.BackupSpace, 'held', namespace, { metadata: { annotations: { [APPROVE_UPGRADE_ANNOTATION]: NEW } } });
    await upToDateOn('held', NEW);

    // The provider opens the next datacenter.
    expect(gatewayImageOf(await gateway('dcheld'))).toBe(OLD);
    await mergePatch(client, API.Datacenter, manualDatacenter, undefined, { spec: { gatewayUpgrade: 'Automatic' } });
    await upToDateOn('dcheld', NEW);
  }, 600_000);
});

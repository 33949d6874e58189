/**
 * Helpers of the kind suite: a client for the kind cluster, pods that run a script and report, and the
 * tenants and spaces the tests build. Everything runs in real pods on real nodes.
 */
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Pod, V1Secret } from '@kubernetes/client-node';
import { TOTP } from 'otpauth';
import { expect, inject } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace, Endpoint } from '../../src/api/types.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath } from '../../src/runtime/kube/resource-ref.ts';
import { secretField } from '../../src/runtime/kube/secrets.ts';
import { readObject, waitForCondition } from '../support/cluster-objects.ts';
import { eventually, uniqueName } from '../support/kube.ts';
import { kubectl } from '../support/kubectl.ts';
import { run } from '../support/run.ts';
import type { TerminationRecord } from '../../src/controllers/tenant/termination.ts';
import { cli } from '../e2e/export-fixture.ts';
import { OPERATOR_NAMESPACE } from './release.ts';

export const kubeconfig = inject('kindKubeconfig');
export const client = KubeClient.load(kubeconfig);
/**
 * For answers that must be seen as they are: a PodDisruptionBudget's refusal of an eviction is a 429
 * with Retry-After, which `client` waits out and retries (it is how the API server throttles) until a
 * replacement replica is ready and the eviction goes through.
 */
export const clientWithoutRetries = KubeClient.load(kubeconfig, { maxThrottleRetries: 0 });
export const clientImage = inject('clientImage');

export async function kubectlOk(args: string[], input?: string): Promise<string> {
  const result = await kubectl(kubeconfig, args, input);
  if (result.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${result.code}): ${result.stderr}`);
  return result.stdout;
}

export async function createNamespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
  const name = uniqueName(prefix);
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name, labels } } });
  return name;
}

/**
 * A Secret in a clients' namespace with what a device is handed: its endpoint's credentials and the
 * space gateway's CA (`password` replaces the endpoint's own, to try someone else's). Returns its name.
 */
export async function createDeviceSecret(clients: string, namespace: string, space: string, endpoint: string, password?: string): Promise<string> {
  const name = uniqueName(`device-${endpoint}`);
  await client.request({
    method: 'POST', path: collectionPath(K8S.Secret, clients), body: {
      metadata: { name },
      stringData: {
        RESTIC_USER: await secretValue(namespace, `endpoint-${endpoint}-credentials`, 'username'),
        RESTIC_SECRET: password ?? await secretValue(namespace, `endpoint-${endpoint}-credentials`, 'password'),
        RESTIC_URL: await secretValue(namespace, `endpoint-${endpoint}-credentials`, 'repository'),
        'ca.crt': await secretValue(namespace, `${space}-gateway-tls`, 'ca.crt'),
      },
    },
  });
  return name;
}

/** A Secret's field that must be there. */
export async function secretValue(namespace: string, name: string, key: string): Promise<string> {
  const secret = await eventually(`Secret ${namespace}/${name}`, () => readObject<V1Secret>(client, K8S.Secret, name, namespace));
  const value = secretField(secret, key);
  if (value === undefined) throw new Error(`Secret ${namespace}/${name} has no ${key}`);
  return value;
}

export interface PodRun {
  phase: string;
  logs: string;
  node: string;
}

/**
 * Runs `script` with sh in a pod of `namespace` from the client image (restic and Node 24), under Pod
 * Security "restricted" so it runs in tenants' namespaces too, and returns its phase and logs once it ends.
 */
export async function runScript(namespace: string, script: string, options: {
  env?: Record<string, string>; secretEnv?: { secret: string; keys: string[] }; files?: { secret: string; mountPath: string };
  nodeSelector?: Record<string, string>; timeoutMs?: number; prefix?: string;
} = {}): Promise<PodRun> {
  const name = uniqueName(options.prefix ?? 'client');
  const env = [
    ...Object.entries(options.env ?? {}).map(([key, value]) => ({ name: key, value })),
    ...(options.secretEnv?.keys ?? []).map((key) => ({ name: key, valueFrom: { secretKeyRef: { name: options.secretEnv?.secret, key } } })),
    { name: 'HOME', value: '/tmp' },
  ];
  const pod: V1Pod = {
    metadata: { name, namespace },
    spec: {
      restartPolicy: 'Never',
      automountServiceAccountToken: false,
      ...(options.nodeSelector ? { nodeSelector: options.nodeSelector } : {}),
      securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{
        name: 'client', image: clientImage, imagePullPolicy: 'Never', command: ['sh', '-c', script], env,
        securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        ...(options.files ? { volumeMounts: [{ name: 'files', mountPath: options.files.mountPath, readOnly: true }] } : {}),
      }],
      ...(options.files ? { volumes: [{ name: 'files', secret: { secretName: options.files.secret } }] } : {}),
    },
  };
  await client.request({ method: 'POST', path: collectionPath(K8S.Pod, namespace), body: pod });
  const done = await eventually(`pod ${namespace}/${name} to finish`, async () => {
    const current = await readObject<V1Pod>(client, K8S.Pod, name, namespace);
    return current?.status?.phase === 'Succeeded' || current?.status?.phase === 'Failed' ? current : undefined;
  }, { timeoutMs: options.timeoutMs ?? 180_000, intervalMs: 1000 });
  const logs = await kubectl(kubeconfig, ['logs', '--namespace', namespace, name]);
  await client.request({ method: 'DELETE', path: objectPath(K8S.Pod, name, namespace) }).catch(() => undefined);
  return { phase: done.status?.phase ?? '', logs: logs.stdout + logs.stderr, node: done.spec?.nodeName ?? '' };
}

/**
 * A shell line that waits (up to `seconds`) until $WAIT_HOST:$WAIT_PORT accepts a TCP connection. kube-router adds a
 * new pod to the policies' address sets on every node shortly after it starts, so a new pod that is
 * allowed in may be refused for its first seconds.
 */
export function waitForConnect(seconds = 90): string {
  return `node -e '
const deadline = Date.now() + ${seconds * 1000};
const attempt = () => {
  const socket = require("net").connect({ host: process.env.WAIT_HOST, port: Number(process.env.WAIT_PORT) });
  socket.setTimeout(3000);
  const retry = (why) => { socket.destroy(); if (Date.now() > deadline) { console.log("NO-CONNECTION " + why); process.exit(1); } setTimeout(attempt, 1000); };
  socket.on("connect", () => { socket.destroy(); process.exit(0); });
  socket.on("timeout", () => retry("timeout"));
  socket.on("error", (e) => retry(e.code));
};
attempt();'`;
}

/**
 * A long-lived pod to probe from (`probeFrom`), so every probe comes from an address the policies
 * already know; with `claim`, it mounts that claim read-only at `/claim` (to read what is on it).
 */
export async function startProber(namespace: string, options: { claim?: string } = {}): Promise<string> {
  const name = uniqueName('prober');
  const pod: V1Pod = {
    metadata: { name, namespace },
    spec: {
      restartPolicy: 'Never', automountServiceAccountToken: false, terminationGracePeriodSeconds: 0,
      securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
      containers: [{
        name: 'prober', image: clientImage, imagePullPolicy: 'Never', command: ['sleep', '3600'], securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
        ...(options.claim ? { volumeMounts: [{ name: 'claim', mountPath: '/claim', readOnly: true }] } : {}),
      }],
      ...(options.claim ? { volumes: [{ name: 'claim', persistentVolumeClaim: { claimName: options.claim, readOnly: true } }] } : {}),
    },
  };
  await client.request({ method: 'POST', path: collectionPath(K8S.Pod, namespace), body: pod });
  await eventually(`prober ${namespace}/${name} running`, async () => ((await readObject<V1Pod>(client, K8S.Pod, name, namespace))?.status?.phase === 'Running' ? true : undefined), { timeoutMs: 120_000 });
  return name;
}

/** From a prober pod: CONNECTED, or REFUSED-OR-TIMEOUT and why. */
export async function probeFrom(namespace: string, pod: string, host: string, port: number): Promise<string> {
  const result = await kubectl(kubeconfig, ['exec', '--namespace', namespace, pod, '--', 'sh', '-c', connectProbe(host, port)]);
  return (result.stdout + result.stderr).trim();
}

/** A shell probe of a TCP connection with a deadline: prints CONNECTED or REFUSED-OR-TIMEOUT. */
export function connectProbe(host: string, port: number, timeoutSeconds = 5): string {
  return `node -e '
const socket = require("net").connect({ host: "${host}", port: ${port} });
socket.setTimeout(${timeoutSeconds * 1000});
socket.on("connect", () => { console.log("CONNECTED"); socket.destroy(); });
socket.on("timeout", () => { console.log("REFUSED-OR-TIMEOUT timeout"); socket.destroy(); });
socket.on("error", (e) => console.log("REFUSED-OR-TIMEOUT " + e.code));
'`;
}

/** Waits until a space is Ready and its endpoint has credentials; returns both. */
export async function readySpaceAndEndpoint(namespace: string, space: string, endpoint: string, timeoutMs = 240_000): Promise<{ space: BackupSpace; endpoint: Endpoint }> {
  const readySpace = await waitForCondition<BackupSpace>(client, API.BackupSpace, space, namespace, 'Ready', 'True', undefined, timeoutMs);
  const readyEndpoint = await waitForCondition<Endpoint>(client, API.Endpoint, endpoint, namespace, 'Ready', 'True', undefined, timeoutMs);
  return { space: readySpace, endpoint: readyEndpoint };
}

/** Gateway pods of a space that are Ready, with the nodes they run on. */
export async function readyGatewayPods(namespace: string, space: string): Promise<V1Pod[]> {
  const list = await client.request<{ items: V1Pod[] }>({ method: 'GET', path: collectionPath(K8S.Pod, namespace), query: { labelSelector: `tenantbackup.io/space=${space}` } });
  return list.items.filter((pod) => pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
}

/** Shell lines that wait until the gateway of $RESTIC_URL lets this (new) pod in; see waitForConnect. */
export const AWAIT_GATEWAY = `export WAIT_HOST=$(echo "$RESTIC_URL" | sed -E "s|rest:https://([^:/]+):([0-9]+)/.*|\\1|")
export WAIT_PORT=$(echo "$RESTIC_URL" | sed -E "s|rest:https://([^:/]+):([0-9]+)/.*|\\2|")
${waitForConnect()}`;

/**
 * From a client pod, through the space's Service (the device Secret gives its URL and CA): a tenant
 * admin signs in with the password and TOTP of their enrolment, then unseals the customer-custody space
 * with its password. Returns the pod's log ("session <status>", "unseal <status>").
 */
export async function unsealThroughService(clients: string, namespace: string, deviceSecret: string, user: string, spacePassword: string): Promise<string> {
  const totp = new TOTP({ secret: await secretValue(namespace, `user-${user}-2fa`, 'totpSecret') });
  const unseal = await runScript(clients, `${AWAIT_GATEWAY}
node -e '
const https = require("https"), fs = require("fs");
const post = (path, body, token) => new Promise((resolve, reject) => {
  const data = JSON.stringify(body);
  const req = https.request({ host: process.env.WAIT_HOST, port: 8443, method: "POST", path, ca: fs.readFileSync("/creds/ca.crt"),
    headers: { "content-type": "application/json", "content-length": Buffer.byteLength(data), ...(token ? { authorization: "Bearer " + token } : {}) } },
    (res) => { let text = ""; res.on("data", (c) => text += c); res.on("end", () => resolve({ status: res.statusCode, text })); });
  req.on("error", reject); req.end(data);
});
(async () => {
  const session = await post("/v1/session", { user: process.env.USER_NAME, password: process.env.USER_PASSWORD, code: process.env.TOTP_CODE });
  console.log("session " + session.status);
  const unseal = await post("/v1/unseal", { password: process.env.SPACE_PASSWORD }, JSON.parse(session.text).token);
  console.log("unseal " + unseal.status);
})();'`, {
    env: { USER_NAME: user, USER_PASSWORD: await secretValue(namespace, `user-${user}-2fa`, 'password'), TOTP_CODE: totp.generate(), SPACE_PASSWORD: spacePassword },
    secretEnv: { secret: deviceSecret, keys: ['RESTIC_USER', 'RESTIC_SECRET', 'RESTIC_URL'] }, files: { secret: deviceSecret, mountPath: '/creds' },
  });
  return unseal.logs;
}

/** The repository password the suite's client pods back up with (restic's own, client side). */
export const RESTIC_PASSWORD = 'client-side-password';

/**
 * The start every backup client's script shares: wait for the gateway, a tree of random files
 * (`bytes` of them, and a note), restic init + backup through the gateway's Service with the
 * endpoint's own credentials. Expects RESTIC_USER, RESTIC_SECRET, RESTIC_URL (the credentials
 * Secret's repository) and the gateway CA at /creds/ca.crt; `r` runs restic on that repository.
 */
function backupScript(bytes: number, note: string): string {
  return `set -eu
${AWAIT_GATEWAY}
mkdir -p /tmp/src/sub
head -c ${bytes} /dev/urandom > /tmp/src/random.bin
echo "${note}" > /tmp/src/sub/note.txt
repo=$(echo "$RESTIC_URL" | sed "s|rest:https://|rest:https://$RESTIC_USER:$RESTIC_SECRET@|")
export RESTIC_PASSWORD=${RESTIC_PASSWORD}
r() { restic --repo "$repo" --cacert /creds/ca.crt --cache-dir /tmp/cache "$@"; }
r init
r backup /tmp/src
`;
}

/** A backup, then a restore; prints RESTORE-IDENTICAL when the restored tree hashes the same as the source. */
export const BACKUP_AND_RESTORE = `${backupScript(3145728, 'kind e2e $(date)')}r restore latest --target /tmp/restore
(cd /tmp/src && find . -type f -exec sha256sum {} + | sort) > /tmp/source.sums
(cd /tmp/restore/tmp/src && find . -type f -exec sha256sum {} + | sort) > /tmp/restored.sums
cmp /tmp/source.sums /tmp/restored.sums && echo RESTORE-IDENTICAL
`;

/** A backup of a tree of its own, whose checksums it prints between markers. */
export const BACKUP_WITH_SUMS = `${backupScript(2097152, '$RESTIC_USER $(date +%s%N)')}echo SUMS-BEGIN
(cd /tmp/src && find . -type f -exec sha256sum {} + | sort)
echo SUMS-END
`;

function sumsOf(logs: string): string {
  const match = /SUMS-BEGIN\n([\s\S]*?)SUMS-END/.exec(logs);
  if (!match?.[1]) throw new Error(`the backup printed no checksums:\n${logs}`);
  return match[1].trim();
}

/** Real restic backups of each endpoint from client pods; per endpoint, the sorted `sha256sum` lines of its tree. */
export async function backUpEndpoints(namespace: string, space: string, endpoints: readonly string[]): Promise<Map<string, string>> {
  const clients = await createNamespace('ending-clients');
  const backedUp = new Map<string, string>();
  for (const endpoint of endpoints) {
    const secret = await createDeviceSecret(clients, namespace, space, endpoint);
    const backup = await runScript(clients, BACKUP_WITH_SUMS, { secretEnv: { secret, keys: ['RESTIC_USER', 'RESTIC_SECRET', 'RESTIC_URL'] }, files: { secret, mountPath: '/creds' }, timeoutMs: 300_000 });
    backedUp.set(endpoint, sumsOf(backup.logs));
  }
  return backedUp;
}

/** Every restic repository under a directory (a folder with a `config` and `data/`). */
async function repositories(dir: string): Promise<string[]> {
  const names = await readdir(dir, { withFileTypes: true });
  if (names.some((entry) => entry.name === 'config' && entry.isFile()) && names.some((entry) => entry.name === 'data')) return [dir];
  const nested = await Promise.all(names.filter((entry) => entry.isDirectory()).map((entry) => repositories(join(dir, entry.name))));
  return nested.flat();
}

/**
 * Checks an exported archive (with its .sha256 beside it in `dir`) as a customer would: sha256sum -c,
 * tar -t, the bag's manifests with sha256sum -c, and plain restic restoring each repository to a tree
 * identical to one of `backedUp`.
 */
export async function checkExportedArchive(archive: string, dir: string, backedUp: Map<string, string>, sealedWith?: string): Promise<void> {
  // The .sha256 names the archive by its base name, as sha256sum writes it: check from its folder.
  const check = await run('bash', ['-c', `cd "${dir}" && sha256sum -c "$(basename "${archive}").sha256"`]);
  expect(check.code, check.stderr).toBe(0);
  const listing = await run('tar', ['-tf', archive]);
  expect(listing.code, listing.stderr).toBe(0);
  const out = join(dir, 'bag');
  await mkdir(out);
  expect((await run('tar', ['-xf', archive, '-C', out])).code).toBe(0);
  const [bag] = await readdir(out);
  const bagDir = join(out, bag ?? '');
  for (const manifest of ['manifest-sha256.txt', 'tagmanifest-sha256.txt']) {
    const result = await run('bash', ['-c', `cd "${bagDir}" && sha256sum -c --quiet ${manifest}`]);
    expect(result.code, `${manifest}: ${result.stdout}${result.stderr}`).toBe(0);
  }
  // A sealed (customer custody) export is opened offline by our documented command with the customer's
  // password alone; its objects in the bag are still encrypted, as stored.
  let plain = join(bagDir, 'data');
  if (sealedWith !== undefined) {
    await writeFile(join(dir, 'password.txt'), `${sealedWith}\n`, { mode: 0o600 });
    plain = join(dir, 'opened');
    const opened = await cli(['open-export', archive, '--password-file', join(dir, 'password.txt'), '--out', plain]);
    expect(opened.code, opened.stderr).toBe(0);
  }
  // Each endpoint's repository restores, with plain restic, to the tree it backed up.
  const repos = await repositories(plain);
  expect(repos).toHaveLength(backedUp.size);
  const restored: string[] = [];
  for (const repository of repos) {
    const target = await mkdtemp(join(tmpdir(), 'kind-restore-'));
    const env = { ...process.env, RESTIC_PASSWORD, RESTIC_REPOSITORY: repository, RESTIC_CACHE_DIR: join(dir, 'cache') };
    const restore = await run('restic', ['restore', 'latest', '--target', target], { env, timeoutMs: 300_000 });
    expect(restore.code, restore.stderr).toBe(0);
    const sums = await run('bash', ['-c', `cd "${target}/tmp/src" && find . -type f -exec sha256sum {} + | sort`]);
    restored.push(sums.stdout.trim());
  }
  expect(restored.sort()).toEqual([...backedUp.values()].sort());
}

/**
 * Nothing of a terminated tenant is left: its namespace (and with it every Secret, PVC and key
 * object) is gone, everything labelled as the tenant's anywhere is a record (termination, usage), volumes the
 * cluster retains are Released, and no Secret names the namespace.
 */
export async function expectNothingOfTenantLeft(tenant: string, namespace: string, record: TerminationRecord | undefined): Promise<void> {
  expect(await readObject(client, K8S.Namespace, namespace)).toBeUndefined();
  const labelled = await kubectlOk(['get', 'namespaces,secrets,persistentvolumeclaims,configmaps,jobs,services,networkpolicies,backupspaces,endpoints.tenantbackup.io', '--all-namespaces', '-l', `tenantbackup.io/tenant=${tenant}`,
    '-o', 'jsonpath={range .items[*]}{.metadata.namespace} {.kind} {.metadata.name}{"\\n"}{end}']);
  // What stays is evidence, in the operator's namespace: the termination record, and the usage ledger
  // of the months the tenant was metered in (billing reads them after the contract ended).
  const left = labelled.split('\n').filter(Boolean);
  expect(left.filter((line) => new RegExp(`^${OPERATOR_NAMESPACE} ConfigMap termination-${tenant}-`).test(line))).toHaveLength(1);
  expect(left.filter((line) => !new RegExp(`^${OPERATOR_NAMESPACE} ConfigMap (termination|usage)-${tenant}-`).test(line))).toEqual([]);
  // A volume the cluster retains (this suite's static datacenter volumes are Retain) is no longer bound:
  // what stays on it is the at-rest ciphertext, whose data key the record lists as shredded.
  const pvs = await kubectlOk(['get', 'persistentvolumes', '-o', 'jsonpath={range .items[*]}{.spec.claimRef.namespace} {.status.phase}{"\\n"}{end}']);
  for (const line of pvs.split('\n').filter((l) => l.startsWith(`${namespace} `))) expect(line).toBe(`${namespace} Released`);
  expect(record?.destroyed.keyIds.length).toBeGreaterThan(0);
  const secretsNamed = await kubectlOk(['get', 'secrets', '--all-namespaces', '-o', 'custom-columns=NS:.metadata.namespace,NAME:.metadata.name', '--no-headers']);
  expect(secretsNamed.split('\n').filter((line) => line.includes(namespace))).toEqual([]);
}

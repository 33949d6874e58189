/**
 * The Helm chart against the real API server: it lints; what it renders (default values, and with
 * cert-manager) is accepted by the API server and by Pod Security "restricted"; it installs with helm
 * and its replicas land on distinct nodes; and its RBAC is enough: the real operator, holding nothing
 * but a token of the chart's ServiceAccount, takes a tenant through its whole life (namespace, quota,
 * policies, people's RBAC, a space with keys and gateway, an endpoint with credentials, webhook
 * certificate renewal, deletion) without one request refused — while what it was not given stays out
 * of reach.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type V1ClusterRole, type V1Deployment, type V1NetworkPolicy, type V1Pod, type V1PolicyRule, type V1Role, type V1Secret, type V1Service } from '@kubernetes/client-node';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { allCustomResourceDefinitions } from '../../src/api/crd.ts';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace, Endpoint, Tenant } from '../../src/api/types.ts';
import { GATEWAY_PORT, NAME_LABEL, OPERATOR_NAME } from '../../src/controllers/labels.ts';
import { CONTENT_TYPE, KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S, objectPath, type ResourceRef } from '../../src/runtime/kube/resource-ref.ts';
import { parseGatewayWorkload } from '../../src/operator/gateway-workload-flag.ts';
import { keyServiceLocation } from '../../src/operator/manager.ts';
import { servingNames, WEBHOOK_TLS_SECRET } from '../../src/webhook/options.ts';
import { WEBHOOK_CONFIGURATION_NAME, WEBHOOK_SERVICE_PORT } from '../../src/webhook/registration.ts';
import { freePort } from '../harness/ports.ts';
import { canGetSecret, createEndpoint, createSpace, createTenant, ensureDatacenters, mergePatch, readObject, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { helm } from '../support/helm.ts';
import { clients, eventually, serviceAccountToken, tokenKubeConfig, uniqueName } from '../support/kube.ts';
import { kubectl } from '../support/kubectl.ts';
import { OperatorProcess } from '../support/operator.ts';

const root = join(import.meta.dirname, '../..');
const chartDir = join(root, 'charts/tenant-backup-operator');
const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);

interface Rendered {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** `helm template` of the chart, as objects (comments and empty documents dropped). */
async function render(release: string, namespace: string, values: string[] = [], extra: string[] = []): Promise<{ text: string; objects: Rendered[] }> {
  const { stdout } = await helm(['template', release, chartDir, '--namespace', namespace, ...values.flatMap((v) => ['--set', v]), ...extra]);
  const objects = parseAllDocuments(stdout).map((doc) => doc.toJS() as unknown).filter((o): o is Rendered => typeof o === 'object' && o !== null && 'kind' in o);
  return { text: stdout, objects };
}

function only<T>(objects: Rendered[], kind: string, name?: string): T {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, rendered ${found.length}`);
  return found[0] as T;
}

function toYamlStream(objects: Rendered[]): string {
  return objects.map((o) => JSON.stringify(o)).join('\n---\n');
}

/** Server-side apply as GitOps tools do it; every object must be accepted, none merely skipped. */
async function applyToServer(objects: Rendered[], dryRun: boolean): Promise<{ stdout: string; stderr: string }> {
  const result = await kubectl(kubeconfigPath, ['apply', '--server-side', '--field-manager=chart-test', ...(dryRun ? ['--dry-run=server'] : []), '-f', '-'], toYamlStream(objects));
  expect(result.code, result.stderr).toBe(0);
  const applied = result.stdout.split('\n').filter((line) => /serverside-applied/.test(line));
  expect(applied, result.stdout).toHaveLength(objects.length);
  return result;
}

async function createNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name, labels } } });
}

async function deleteQuietly(path: string): Promise<void> {
  await client.request({ method: 'DELETE', path }).catch(() => undefined);
}

const RESTRICTED = {
  'pod-security.kubernetes.io/enforce': 'restricted',
  'pod-security.kubernetes.io/warn': 'restricted',
};

const operatorArgs = (deployment: V1Deployment): string[] => deployment.spec?.template.spec?.containers[0]?.args ?? [];
const flag = (args: string[], name: string): string | undefined => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

beforeAll(async () => {
  await installCrds(client);
});

describe('the chart', () => {
  it('lints cleanly, with default values and with cert-manager', async () => {
    await helm(['lint', '--strict', chartDir]);
    await helm(['lint', '--strict', chartDir, '--set', 'webhook.certSource=cert-manager', '--set', 'metrics.serviceMonitor.enabled=true']);
  });

  it('carries the operator\'s version and the generated CRDs as templates, kept on uninstall unless told otherwise', async () => {
    const chart = parseYaml(await readFile(join(chartDir, 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string };
    expect(chart.appVersion).toBe(pkg.version);
    // Helm never upgrades crds/: the CRDs are templates (npm run generate writes them; src/api/crd.test.ts checks the bytes).
    expect(existsSync(join(chartDir, 'crds'))).toBe(false);
    const generated = allCustomResourceDefinitions();
    const ours = (objects: Rendered[]) => objects.filter((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name.endsWith('.tenantbackup.io'));
    const rendered = ours((await render('tbo', 'tb-system')).objects);
    expect(rendered.map((o) => o.metadata.name).sort()).toEqual(generated.map((c) => c.metadata?.name).sort());
    for (const crd of rendered) {
      expect(crd.spec, crd.metadata.name).toEqual(generated.find((c) => c.metadata?.name === crd.metadata.name)?.spec);
      expect(crd.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
      expect(crd.metadata.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
    }
    const notKept = ours((await render('tbo', 'tb-system', ['crds.keep=false'])).objects);
    expect(notKept.map((o) => o.metadata.annotations?.['helm.sh/resource-policy'])).toEqual([undefined, undefined, undefined, undefined]);
    expect(ours((await render('tbo', 'tb-system', ['crds.enabled=false'])).objects)).toEqual([]);
    // The PolicyReport CRD of the audit (wgpolicyk8s.io, shared with Kyverno and Policy Reporter) is
    // rendered when the cluster has none, always kept, and left out when told.
    const policyReports = (objects: Rendered[]) => objects.filter((o) => o.kind === 'CustomResourceDefinition' && o.metadata.name === 'policyreports.wgpolicyk8s.io');
    const [policyReport] = policyReports((await render('tbo', 'tb-system', ['crds.keep=false'])).objects);
    expect(policyReport?.metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
    expect(policyReports((await render('tbo', 'tb-system', ['policyReport.installCrd=false'])).objects)).toEqual([]);
  });

  it('renders a restricted, spread, HTTPS-probed Deployment whose names match what the operator expects', async () => {
    const { objects } = await render('tbo', 'tb-system');
    const deployment = only<V1Deployment>(objects, 'Deployment');
    const pod = deployment.spec?.template.spec;
    const container = pod?.containers[0];
    expect(deployment.spec?.replicas).toBe(2);
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(container?.securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(container?.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', scheme: 'HTTPS' });
    expect(container?.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', scheme: 'HTTPS' });
    expect(container?.env?.find((e) => e.name === 'POD_NAMESPACE')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.namespace');
    expect(pod?.topologySpreadConstraints?.[0]?.topologyKey).toBe('kubernetes.io/hostname');
    // Tenant namespaces admit the operator's pods (to read gateway reports) by this label.
    expect(deployment.spec?.template.metadata?.labels?.[NAME_LABEL]).toBe(OPERATOR_NAME);
    // The gateways run the operator's own image unless told otherwise.
    const args = operatorArgs(deployment);
    expect(args[0]).toBe('operator');
    expect(flag(args, 'gateway-image')).toBe(container?.image);
    expect(flag(args, 'gateway-image')).toBe('ghcr.io/tenant-backup/tenant-backup-operator:0.1.0');

    // The API server reaches the webhook through the Service on the port the operator registers.
    const webhookService = only<V1Service>(objects, 'Service', flag(args, 'webhook-service'));
    expect(webhookService.spec?.ports).toEqual([expect.objectContaining({ port: WEBHOOK_SERVICE_PORT, targetPort: 'https-webhook' })]);
    expect(container?.ports?.find((p) => p.name === 'https-webhook')?.containerPort).toBe(9443);
    const policy = only<V1NetworkPolicy>(objects, 'NetworkPolicy');
    expect(policy.spec?.egress?.some((rule) => rule.ports?.some((p) => p.port === GATEWAY_PORT))).toBe(true);

    // The gateways reach the key service through its Service, at the address the operator tells them.
    const keyService = only<V1Service>(objects, 'Service', flag(args, 'key-service-name'));
    expect(keyService.spec?.ports).toEqual([expect.objectContaining({ port: 9444, targetPort: 'https-keys' })]);
    expect(container?.ports?.find((p) => p.name === 'https-keys')?.containerPort).toBe(9444);
    expect(flag(args, 'key-service-bind-address')).toBe(':9444');
    const location = keyServiceLocation({ bindAddress: flag(args, 'key-service-bind-address') ?? '', service: flag(args, 'key-service-name') ?? '' }, 'tb-system');
    expect(location.url).toBe('https://tbo-tenant-backup-operator-keys.tb-system.svc:9444');
    // Only the tenants' gateway and export pods may reach it.
    const keysIngress = policy.spec?.ingress?.find((rule) => rule.ports?.some((p) => p.port === 'https-keys'));
    expect((keysIngress as { from?: unknown } | undefined)?.from).toEqual([{
      namespaceSelector: { matchExpressions: [{ key: 'tenantbackup.io/tenant', operator: 'Exists' }] },
      podSelector: { matchExpressions: [{ key: 'app.kubernetes.io/component', operator: 'In', values: ['gateway', 'export'] }] },
    }]);
    // Metrics and probes on ports of their own: /metrics needs credentials, the probes do not.
    expect(flag(args, 'metrics-bind-address')).toBe(':8443');
    expect(flag(args, 'health-probe-bind-address')).toBe(':8081');
    expect(objects.some((o) => o.kind === 'PodDisruptionBudget')).toBe(true);
  });

  it('gives the operator the cluster\'s ranges and, when set, the provider\'s admin networks, in both families', async () => {
    const defaults = operatorArgs(only<V1Deployment>((await render('tbo', 'tb-system')).objects, 'Deployment'));
    expect(flag(defaults, 'cluster-cidrs')).toBe('10.0.0.0/8,fd00::/8');
    expect(flag(defaults, 'admin-cidrs')).toBeUndefined();
    const set = operatorArgs(only<V1Deployment>((await render('tbo', 'tb-system', ['operator.adminCIDRs={192.0.2.0/24,2001:db8:ad::/48}'])).objects, 'Deployment'));
    expect(flag(set, 'admin-cidrs')).toBe('192.0.2.0/24,2001:db8:ad::/48');
  });

  it('pins the gateways\' image by digest from gateway.image.digest, and refuses a malformed digest naming the value', async () => {
    const digest = `sha256:${'5e'.repeat(32)}`;
    const gatewayImage = async (values: string[]) => flag(operatorArgs(only<V1Deployment>((await render('tbo', 'tb-system', values)).objects, 'Deployment')), 'gateway-image');
    expect(await gatewayImage([`gateway.image.digest=${digest}`])).toBe(`ghcr.io/tenant-backup/tenant-backup-operator@${digest}`);
    expect(await gatewayImage([`gateway.image.digest=${digest}`, 'gateway.image.repository=registry.example/gw', 'gateway.image.tag=ignored'])).toBe(`registry.example/gw@${digest}`);
    expect(await gatewayImage(['gateway.image.tag=0.2.0'])).toBe('ghcr.io/tenant-backup/tenant-backup-operator:0.2.0');
    // The operator's own pinned image, when the gateways are given nothing of their own.
    expect(await gatewayImage([`image.digest=${digest}`])).toBe(`ghcr.io/tenant-backup/tenant-backup-operator@${digest}`);
    expect(await gatewayImage(['gatewayImage=registry.example/other:1', `gateway.image.digest=${digest}`])).toBe('registry.example/other:1');
    await expect(render('tbo', 'tb-system', ['gateway.image.digest=sha256:abc'])).rejects.toThrow(/gateway\.image\.digest[\s\S]*does not match pattern/);
    await expect(render('tbo', 'tb-system', [`gateway.image.digest=${'a'.repeat(64)}`])).rejects.toThrow(/gateway\.image\.digest/);
  });

  it('gives the operator the gateway pod settings given, as the flag it parses, and refuses its own labels', async () => {
    expect(flag(operatorArgs(only<V1Deployment>((await render('tbo', 'tb-system')).objects, 'Deployment')), 'gateway-workload')).toBeUndefined();
    const set = ['gateway.priorityClassName=backup', 'gateway.podLabels.team=storage', 'gateway.resources.requests.memory=256Mi', 'gateway.resources.limits.memory=1Gi', 'gateway.tolerations[0].key=dedicated', 'gateway.tolerations[0].operator=Exists'];
    const args = operatorArgs(only<V1Deployment>((await render('tbo', 'tb-system', set)).objects, 'Deployment'));
    expect(parseGatewayWorkload('--gateway-workload')(flag(args, 'gateway-workload') ?? '')).toEqual({
      priorityClassName: 'backup', podLabels: { team: 'storage' }, resources: { requests: { memory: '256Mi' }, limits: { memory: '1Gi' } }, tolerations: [{ key: 'dedicated', operator: 'Exists' }],
    });
    await expect(render('tbo', 'tb-system', ['gateway.podLabels.app\\.kubernetes\\.io/instance=other'])).rejects.toThrow(/invalid propertyName 'app\.kubernetes\.io\/instance'/);
    await expect(render('tbo', 'tb-system', ['gateway.priorityClassName=system-node-critical'])).rejects.toThrow(/priorityClassName/);
  });

  it('gives the operator no wildcard, escalate, bind or impersonate, and its own webhook configuration only', async () => {
    const { objects } = await render('tbo', 'tb-system');
    const rules = only<V1ClusterRole>(objects, 'ClusterRole', 'tbo-tenant-backup-operator').rules ?? [];
    for (const rule of rules) {
      for (const value of [...(rule.verbs ?? []), ...(rule.resources ?? []), ...(rule.apiGroups ?? [])]) expect(value, JSON.stringify(rule)).not.toContain('*');
      expect(rule.nonResourceURLs).toBeUndefined();
      for (const verb of ['escalate', 'bind', 'impersonate', 'deletecollection']) expect(rule.verbs).not.toContain(verb);
    }
    // Only creating it cannot be limited to a name; changing it is limited to the operator's own.
    // TokenReview and SubjectAccessReview: who calls /metrics and the key service, and may they.
    expect(rules).toContainEqual(expect.objectContaining({ apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] }));
    expect(rules).toContainEqual(expect.objectContaining({ apiGroups: ['authorization.k8s.io'], resources: ['subjectaccessreviews'], verbs: ['create'] }));
    // The scraper's ClusterRole grants get on /metrics and nothing else.
    expect(only<V1ClusterRole>(objects, 'ClusterRole', 'tbo-tenant-backup-operator-metrics-reader').rules).toEqual([{ nonResourceURLs: ['/metrics'], verbs: ['get'] }]);
    const webhookRules = rules.filter((r) => r.resources?.includes('validatingwebhookconfigurations'));
    expect(webhookRules.map((r) => [r.verbs, r.resourceNames])).toEqual([[['create'], undefined], [['patch'], [WEBHOOK_CONFIGURATION_NAME]]]);
    const roleRules = only<V1Role>(objects, 'Role').rules ?? [];
    const secretRule = roleRules.find((r: V1PolicyRule) => r.resources?.includes('secrets'));
    expect(secretRule?.resourceNames).toEqual([WEBHOOK_TLS_SECRET]);
  });

  it('renders objects the API server accepts, within Pod Security "restricted" (default values)', async () => {
    const namespace = uniqueName('tbo-render');
    await createNamespace(namespace, { 'pod-security.kubernetes.io/warn': 'restricted' });
    try {
      const { objects } = await render(uniqueName('render'), namespace);
      // Ours and the audit's PolicyReport CRD.
      expect(objects.filter((o) => o.kind === 'CustomResourceDefinition')).toHaveLength(5);
      const { stderr } = await applyToServer(objects, true);
      expect(stderr).not.toMatch(/would violate PodSecurity/);
    } finally {
      await deleteQuietly(objectPath(K8S.Namespace, namespace));
    }
  });

  it('renders a cert-manager Certificate the operator serves and cert-manager injects, and its other objects apply', async () => {
    const namespace = uniqueName('tbo-cm');
    await createNamespace(namespace, { 'pod-security.kubernetes.io/warn': 'restricted' });
    try {
      const { objects } = await render(uniqueName('cm'), namespace, ['webhook.certSource=cert-manager', 'metrics.serviceMonitor.enabled=true']);
      const args = operatorArgs(only<V1Deployment>(objects, 'Deployment'));
      expect(flag(args, 'webhook-cert-source')).toBe('cert-manager');
      const service = flag(args, 'webhook-service') ?? '';
      // The operator annotates its webhook configuration with inject-ca-from <namespace>/<webhook Service>,
      // and reads the certificate from its fixed Secret.
      const certificate = only<Rendered & { spec: { secretName: string; dnsNames: string[]; issuerRef: { name: string; kind: string } } }>(objects, 'Certificate', service);
      expect(certificate.spec.secretName).toBe(WEBHOOK_TLS_SECRET);
      const names = servingNames({ service }, namespace);
      expect(certificate.spec.dnsNames).toEqual(expect.arrayContaining(names.dnsNames));
      expect(only<Rendered>(objects, 'Issuer').metadata.name).toBe(certificate.spec.issuerRef.name);
      const monitor = only<Rendered & { spec: { endpoints: { scheme: string; port: string; bearerTokenFile: string }[] } }>(objects, 'ServiceMonitor');
      // Prometheus scrapes over TLS with its ServiceAccount token (the operator checks it).
      expect(monitor.spec.endpoints[0]).toMatchObject({ scheme: 'https', port: 'https-metrics', bearerTokenFile: '/var/run/secrets/kubernetes.io/serviceaccount/token' });
      // The operator does not write the certificate Secret then.
      expect((only<V1Role>(objects, 'Role').rules ?? []).some((r) => r.resources?.includes('secrets'))).toBe(false);
      // cert-manager and prometheus-operator are not installed here: only the chart's other objects go to the server.
      const { stderr } = await applyToServer(objects.filter((o) => !/^(cert-manager\.io|monitoring\.coreos\.com)\//.test(o.apiVersion)), true);
      expect(stderr).not.toMatch(/would violate PodSecurity/);
    } finally {
      await deleteQuietly(objectPath(K8S.Namespace, namespace));
    }
  });

  it('installs with helm into a restricted namespace, its replicas admitted and scheduled on distinct nodes', async () => {
    const namespace = uniqueName('tbo-install');
    const release = uniqueName('inst');
    await createNamespace(namespace, RESTRICTED);
    try {
      // An image nobody can pull: on simulated nodes the pods "run" anyway, on a real cluster they never start.
      // The suite's CRDs are installed by the harness, not by a release (chart-upgrade.test.ts installs them with helm).
      await helm(['install', release, chartDir, '--kubeconfig', kubeconfigPath, '--namespace', namespace, '--set', 'image.repository=registry.invalid/tenant-backup-operator', '--set', 'crds.enabled=false']);
      const pods = await eventually('two operator pods bound to nodes', async () => {
        const list = await client.request<{ items: V1Pod[] }>({ method: 'GET', path: collectionPath(K8S.Pod, namespace), query: { labelSelector: `${NAME_LABEL}=${OPERATOR_NAME}` } });
        const bound = list.items.filter((p) => p.spec?.nodeName);
        return bound.length === 2 ? bound : undefined;
      }, { timeoutMs: 60_000 });
      expect(new Set(pods.map((p) => p.spec?.nodeName)).size).toBe(2);
      const { stdout } = await helm(['status', release, '--kubeconfig', kubeconfigPath, '--namespace', namespace]);
      expect(stdout).toMatch(/STATUS: deployed/);
      await helm(['uninstall', release, '--kubeconfig', kubeconfigPath, '--namespace', namespace, '--wait']);
      expect(await readObject(client, { group: 'rbac.authorization.k8s.io', version: 'v1', kind: 'ClusterRole', plural: 'clusterroles', namespaced: false }, `${release}-tenant-backup-operator`)).toBeUndefined();
    } finally {
      await helm(['uninstall', release, '--kubeconfig', kubeconfigPath, '--namespace', namespace, '--ignore-not-found']).catch(() => undefined);
      await deleteQuietly(objectPath(K8S.Namespace, namespace));
    }
  });
});

describe('the chart\'s RBAC, held by the real operator', () => {
  const namespace = uniqueName('tbo-rbac');
  const release = uniqueName('rbac');
  const tenantName = uniqueName('chart');
  const tenantNamespace = `tenant-${tenantName}`;
  let rbacObjects: Rendered[] = [];
  let tokenKubeconfig = '';
  let operator: OperatorProcess | undefined;
  let serviceAccount = '';

  beforeAll(async () => {
    await ensureDatacenters(client);
    await createNamespace(namespace);
    // A gateway setting, so the chart's flag reaches the real operator and the gateway (below).
    const { objects } = await render(release, namespace, ['gateway.podLabels.team=storage']);
    rbacObjects = objects.filter((o) => ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding'].includes(o.kind));
    // The operator's own, and the metrics-reader ClusterRole for the scraper (bound by the provider).
    expect(rbacObjects.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'Role', 'RoleBinding', 'ServiceAccount']);
    await applyToServer(rbacObjects, false);
    serviceAccount = only<Rendered>(rbacObjects, 'ServiceAccount').metadata.name;

    // A token of the chart's ServiceAccount, as the pod would have mounted, in a kubeconfig of its own.
    const config = tokenKubeConfig(kubeconfigPath, serviceAccount, await serviceAccountToken(client, serviceAccount, namespace));
    tokenKubeconfig = join(await mkdtemp(join(tmpdir(), 'chart-rbac-')), 'kubeconfig');
    await writeFile(tokenKubeconfig, config.exportConfig(), { mode: 0o600 });

    // The operator runs with the flags the chart gives it, but for listen addresses: it runs on
    // loopback, and the API server calls its webhook by URL instead of through the Service.
    const deployment = only<V1Deployment>(objects, 'Deployment');
    const listen = /^--(metrics|health-probe|webhook|key-service)-bind-address=/;
    const args = operatorArgs(deployment).slice(1).filter((a) => !listen.test(a));
    const port = await freePort();
    operator = await OperatorProcess.start(tokenKubeconfig, [
      ...args,
      '--webhook-bind-address', `127.0.0.1:${port}`,
      '--webhook-url', `https://127.0.0.1:${port}`,
    ], { POD_NAMESPACE: namespace });
    try {
      await operator.waitForLog('leadership', (l) => l.msg === 'became leader');
      await operator.waitForLog('the webhook to be registered', (l) => l.msg === 'webhook configuration registered');
    } catch (error) {
      throw new Error(`${error instanceof Error ? error.message : String(error)}\n${await complaints()}`, { cause: error });
    }
  });

  /** The operator's warnings and errors: what to read first when a step times out. */
  async function complaints(): Promise<string> {
    const lines = await operator?.logs() ?? [];
    return lines.filter((l) => l.level === 'warn' || l.level === 'error').slice(0, 20).map((l) => JSON.stringify(l)).join('\n');
  }

  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') console.error(`operator warnings and errors:\n${await complaints()}`);
  });

  afterAll(async () => {
    await operator?.stop();
    // A webhook that fails closed must not outlive its operator: it would refuse every later test's objects.
    await deleteQuietly(objectPath(K8S.ValidatingWebhookConfiguration, WEBHOOK_CONFIGURATION_NAME));
    await removeTenant(client, tenantName);
    for (const object of rbacObjects.filter((o) => o.kind.startsWith('Cluster'))) {
      await deleteQuietly(`/apis/rbac.authorization.k8s.io/v1/${object.kind === 'ClusterRole' ? 'clusterroles' : 'clusterrolebindings'}/${object.metadata.name}`);
    }
    await deleteQuietly(objectPath(K8S.Namespace, namespace));
  });

  it('turns a Tenant into its namespace, quota, policies and its people\'s RBAC', async () => {
    await createTenant(client, tenantName, {
      residency: { countries: ['IT'] },
      quotas: { storage: '100Gi', spaces: 2, endpoints: 5 },
      security: { twoFactor: 'Required', keyCustody: 'provider' },
      users: [{ name: 'giulia', email: 'giulia@example.com', role: 'admin' }, { name: 'marco', email: 'marco@example.com', role: 'viewer' }],
    });
    const tenant = await waitForCondition<Tenant>(client, API.Tenant, tenantName, undefined, 'Ready', 'True', undefined, 90_000);
    expect(tenant.status?.namespace).toBe(tenantNamespace);
    const names = async (ref: ResourceRef) => (await client.request<{ items: Rendered[] }>({ method: 'GET', path: collectionPath(ref, tenantNamespace) })).items.map((o) => o.metadata.name);
    expect(await names(K8S.ResourceQuota)).toContain('tenant-quota');
    expect(await names(K8S.NetworkPolicy)).toEqual(expect.arrayContaining(['default-deny', 'allow-backup-clients']));
    // Roles granting our API's writes, events, and (below) named Secrets: the operator holds all of it.
    expect(await names(K8S.Role)).toEqual(expect.arrayContaining(['tenant-admin', 'tenant-operator', 'tenant-viewer']));
    await eventually('2FA enrolments readable only by their owners', async () => {
      const secrets = await names(K8S.Secret);
      const roles = await names(K8S.Role);
      return secrets.includes('user-giulia-2fa') && secrets.includes('user-marco-2fa') && roles.some((r) => r.includes('giulia')) ? true : undefined;
    });
  });

  it('builds a BackupSpace admitted by its webhook: key Secret, gateway Deployment and Service, status', async () => {
    await createSpace(client, 'main', tenantNamespace, { size: '10Gi', datacenter: 'it-mil1', replicas: 1 });
    const space = await waitForCondition<BackupSpace>(client, API.BackupSpace, 'main', tenantNamespace, 'Ready', 'True', undefined, 120_000);
    expect(space.status).toMatchObject({ datacenter: 'it-mil1', country: 'IT', keyCustody: 'provider', serviceName: 'main-gateway' });
    expect(space.status?.keyId).toMatch(/^k1-/);
    expect(await readObject(client, K8S.Secret, 'main-key', tenantNamespace)).toBeDefined();
    const gateway = await readObject<V1Deployment>(client, K8S.Deployment, 'main-gateway', tenantNamespace);
    expect(gateway?.spec?.template.metadata?.labels?.team, 'the chart\'s gateway.podLabels').toBe('storage');
    expect(await readObject(client, K8S.Service, 'main-gateway', tenantNamespace)).toBeDefined();
    // The master key and the CA are kept in the release namespace.
    expect(await readObject(client, K8S.Secret, 'tenant-backup-operator-master-key', namespace)).toBeDefined();
    expect(await readObject(client, K8S.Secret, 'tenant-backup-operator-ca', namespace)).toBeDefined();
  });

  it('issues an Endpoint its credentials, and lets the tenant\'s admin read them by name', async () => {
    await createEndpoint(client, 'laptop', tenantNamespace, 'main', { kind: 'Desktop', os: 'Windows' });
    const endpoint = await waitForCondition<Endpoint>(client, API.Endpoint, 'laptop', tenantNamespace, 'Ready', 'True', undefined, 90_000);
    expect(endpoint.status?.credentialsSecretName).toBe('endpoint-laptop-credentials');
    expect(await readObject<V1Secret>(client, K8S.Secret, 'endpoint-laptop-credentials', tenantNamespace)).toBeDefined();
    // Granting `get` on this Secret needs the operator to hold it: no escalate in the chart.
    await eventually('giulia to be able to read the credentials', async () => ((await canGetSecret(client, 'giulia@example.com', tenantNamespace, 'endpoint-laptop-credentials')) ? true : undefined));
  });

  it('re-issues a broken webhook certificate in place', async () => {
    const before = await readObject<V1Secret>(client, K8S.Secret, WEBHOOK_TLS_SECRET, namespace);
    expect(before?.data?.['tls.crt']).toBeDefined();
    // A certificate that no longer matches its key: the operator replaces the Secret (update), keeping its name.
    await client.request({ method: 'PATCH', path: objectPath(K8S.Secret, WEBHOOK_TLS_SECRET, namespace), body: { data: { 'tls.crt': before?.data?.['ca.crt'] } }, contentType: CONTENT_TYPE.merge });
    await operator?.waitForLog('the certificate to be renewed', (l) => l.msg === 'serving certificate renewed');
    const after = await readObject<V1Secret>(client, K8S.Secret, WEBHOOK_TLS_SECRET, namespace);
    expect(after?.metadata?.uid).toBe(before?.metadata?.uid);
    expect(after?.data?.['tls.crt']).not.toBe(before?.data?.['ca.crt']);
  });

  it('keeps out of reach what it was not given', async () => {
    const can = async (...args: string[]) => (await kubectl(tokenKubeconfig, ['auth', 'can-i', ...args])).stdout.trim();
    const rules = rbacObjects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role').flatMap((o) => (o as V1ClusterRole).rules ?? []);
    const holdsSome = (group: string, resource: string) => rules.some((r) => r.apiGroups?.includes(group) && r.resources?.includes(resource));
    // Each refusal is at the edge of a grant: another verb on a resource it does hold, or the same
    // verb in another scope. A question about something granted nowhere would pass whatever the
    // chart said.
    const refused: [group: string, resource: string, ...args: string[]][] = [
      ['', 'secrets', 'update', 'secrets', '-n', tenantNamespace],
      ['', 'persistentvolumeclaims', 'delete', 'persistentvolumeclaims', '-n', tenantNamespace],
      ['', 'pods', 'create', 'pods', '-n', tenantNamespace],
      ['', 'namespaces', 'update', 'namespaces'],
      ['', 'nodes', 'patch', 'nodes'],
      ['', 'services', 'delete', 'services', '-n', tenantNamespace],
      ['apps', 'deployments', 'delete', 'deployments.apps', '-n', tenantNamespace],
      ['tenantbackup.io', 'datacenters', 'patch', 'datacenters.tenantbackup.io'],
      ['tenantbackup.io', 'tenants', 'update', 'tenants.tenantbackup.io'],
      ['tenantbackup.io', 'tenants', 'delete', 'tenants.tenantbackup.io'],
      ['storage.k8s.io', 'storageclasses', 'create', 'storageclasses.storage.k8s.io'],
      ['rbac.authorization.k8s.io', 'roles', 'escalate', 'roles', '-n', tenantNamespace],
      ['rbac.authorization.k8s.io', 'roles', 'bind', 'roles', '-n', tenantNamespace],
      ['admissionregistration.k8s.io', 'validatingwebhookconfigurations', 'patch', 'validatingwebhookconfigurations/someone-elses'],
      ['coordination.k8s.io', 'leases', 'update', `leases/${OPERATOR_NAME}`, '-n', 'kube-system'],
    ];
    const answers: Record<string, string> = {};
    for (const [group, resource, ...args] of refused) {
      expect(holdsSome(group, resource), `the chart grants nothing on ${resource}.${group || 'core'}: asking about it proves nothing`).toBe(true);
      answers[args.join(' ')] = await can(...args);
    }
    expect(answers).toEqual(Object.fromEntries(refused.map(([, , ...args]) => [args.join(' '), 'no'])));
    // And what it was given, it has: the same questions, one step inside the grant.
    expect(await can('patch', `validatingwebhookconfigurations/${WEBHOOK_CONFIGURATION_NAME}`)).toBe('yes');
    expect(await can('update', `leases/${OPERATOR_NAME}`, '-n', namespace)).toBe('yes');
    expect(await can('patch', 'persistentvolumeclaims', '-n', tenantNamespace)).toBe('yes');
    expect(await can('patch', 'tenants.tenantbackup.io')).toBe('yes');
  });

  it('tears the tenant down (crypto-shred, namespace, finalizers), then stops cleanly with no request refused', async () => {
    const running = operator;
    if (!running) throw new Error('the operator did not start');
    // Up to here, not one request was refused: no 403 of any kind.
    const building = (await running.logText()).split('\n');
    const refusedWhileBuilding = building.filter((line) => /forbidden/i.test(line) || /(: 403\b|"code":\s*403\b)/.test(line));
    expect(refusedWhileBuilding, refusedWhileBuilding.join('\n')).toEqual([]);

    await mergePatch(client, API.Tenant, tenantName, undefined, { spec: { contract: { exportOnTermination: false } } });
    await client.request({ method: 'DELETE', path: objectPath(API.Tenant, tenantName) });
    await eventually('the tenant and its namespace to be gone', async () => {
      const gone = !(await readObject(client, API.Tenant, tenantName)) && !(await readObject(client, K8S.Namespace, tenantNamespace));
      return gone ? true : undefined;
    }, { timeoutMs: 120_000, intervalMs: 1000 });
    expect(await running.stop()).toBe(0);

    // While a namespace terminates, the API server's NamespaceLifecycle admission refuses new objects
    // in it with 403 too ("unable to create new content"); that is not RBAC. An RBAC refusal always
    // names the user and what it cannot do.
    const lines = (await running.logText()).split('\n');
    const rbacRefusals = lines.filter((line) => /forbidden: User .* cannot /i.test(line));
    expect(rbacRefusals, rbacRefusals.join('\n')).toEqual([]);
    expect(lines.some((line) => line.includes('"released the lease"'))).toBe(true);
    // Events were recorded under the chart's permissions.
    const events = await client.request<{ items: { reportingController?: string; regarding?: { name?: string } }[] }>({ method: 'GET', path: collectionPath(K8S.Event) });
    expect(events.items.some((e) => e.reportingController === `tenantbackup.io/${OPERATOR_NAME}` && e.regarding?.name === tenantName)).toBe(true);
  });
});

/**
 * A real Kubernetes control plane on loopback, from binaries built by hack/controlplane/build.sh:
 * etcd, kube-apiserver (RBAC and the default admission plugins, ResourceQuota included),
 * kube-controller-manager, kube-scheduler, and kwok simulating the nodes of several datacenters.
 *
 * Every cluster lives in its own directory with its own ports, so several runs never collide. Its
 * processes are detached and recorded in cluster.json, so one command starts a cluster and another
 * (possibly another process) stops it.
 */
import { spawn } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from './ports.ts';
import { createPki } from './pki.ts';
import { seedCluster } from './seed.ts';

const harnessDir = dirname(fileURLToPath(import.meta.url));
export const projectRoot = resolve(harnessDir, '../..');
export const defaultBinDir = join(projectRoot, '.cache/controlplane/bin');
export const defaultClustersDir = join(projectRoot, '.cache/clusters');

const SERVICE_CIDR = '10.96.0.0/16';
const SERVICE_CLUSTER_IP = '10.96.0.1';
const POD_CIDR = '10.244.0.0/16';

type ComponentName = 'etcd' | 'kube-apiserver' | 'kube-controller-manager' | 'kube-scheduler' | 'kwok';
const COMPONENTS: readonly ComponentName[] = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'];

interface ComponentProcess {
  binary: string;
  args: string[];
  log: string;
  pid: number;
}

export interface ClusterState {
  name: string;
  dir: string;
  kubeconfig: string;
  server: string;
  ports: { etcd: number; etcdPeer: number; apiserver: number; controllerManager: number; scheduler: number };
  components: Partial<Record<ComponentName, ComponentProcess>>;
  /** Processes started against this cluster (the demo's operator), stopped with it, first. */
  attached?: ComponentProcess[];
  startedAt: string;
  startSeconds: number;
}

export interface StartOptions {
  name: string;
  clustersDir?: string;
  binDir?: string;
  /** Simulated nodes, local volumes and storage class (default true). */
  seed?: boolean;
}

function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function tail(file: string, lines = 30): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function launch(binary: string, args: string[], log: string): ComponentProcess {
  const fd = openSync(log, 'a');
  // Detached into its own process group: the cluster outlives the command that started it, and
  // stopping it kills the whole group.
  const child = spawn(binary, args, { detached: true, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new Error(`could not start ${binary}`);
  return { binary, args, log, pid: child.pid };
}

/** GET an HTTPS URL of the control plane with the admin client certificate; resolves the status code (0 when unreachable). */
function probe(url: string, tls: { ca?: Buffer; cert: Buffer; key: Buffer }): Promise<number> {
  return new Promise((done) => {
    const req = request(url, { ...tls, rejectUnauthorized: tls.ca !== undefined, timeout: 2000 }, (res) => {
      res.resume();
      done(res.statusCode ?? 0);
    });
    req.on('error', () => done(0));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function waitFor(what: string, component: ComponentProcess, check: () => Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    if (!isAlive(component.pid)) {
      throw new Error(`${what}: process exited during start-up; last lines of ${component.log}:\n${await tail(component.log)}`);
    }
    await sleep(250);
  }
  throw new Error(`${what} did not become healthy in ${timeoutMs / 1000}s; last lines of ${component.log}:\n${await tail(component.log)}`);
}

function kubeconfigYaml(name: string, server: string, ca: Buffer, cert: Buffer, key: Buffer): string {
  const b64 = (data: Buffer) => data.toString('base64');
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${name}`,
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(ca)}`,
    'users:',
    '- name: admin',
    '  user:',
    `    client-certificate-data: ${b64(cert)}`,
    `    client-key-data: ${b64(key)}`,
    'contexts:',
    `- name: ${name}`,
    '  context:',
    `    cluster: ${name}`,
    '    user: admin',
    `current-context: ${name}`,
    '',
  ].join('\n');
}

function requireBinaries(binDir: string): void {
  const missing = [...COMPONENTS, 'kubectl'].filter((name) => !existsSync(join(binDir, name)));
  if (missing.length > 0) {
    throw new Error(`control-plane binaries missing in ${binDir}: ${missing.join(', ')}; build them with: bash hack/controlplane/build.sh (make test does this for you)`);
  }
}

function stateFile(dir: string): string {
  return join(dir, 'cluster.json');
}

async function saveState(state: ClusterState): Promise<void> {
  await writeFile(stateFile(state.dir), JSON.stringify(state, null, 2));
}

export async function loadState(dir: string): Promise<ClusterState> {
  return JSON.parse(await readFile(stateFile(dir), 'utf8')) as ClusterState;
}

export function clusterDir(name: string, clustersDir = defaultClustersDir): string {
  return join(clustersDir, name);
}

export async function startCluster(options: StartOptions): Promise<ClusterState> {
  const started = Date.now();
  const binDir = options.binDir ?? defaultBinDir;
  requireBinaries(binDir);
  const dir = clusterDir(options.name, options.clustersDir);
  if (existsSync(stateFile(dir))) {
    throw new Error(`a cluster named '${options.name}' already exists in ${dir}; stop it first`);
  }
  await rm(dir, { recursive: true, force: true });
  const pkiDir = join(dir, 'pki');
  const logDir = join(dir, 'logs');
  await mkdir(pkiDir, { recursive: true });
  await mkdir(logDir, { recursive: true });

  const pki = await createPki(pkiDir, SERVICE_CLUSTER_IP);
  const tls = { ca: await readFile(pki.caCert), cert: await readFile(pki.adminCert), key: await readFile(pki.adminKey) };
  const [etcd, etcdPeer, apiserver, controllerManager, scheduler] = await freePorts(5) as [number, number, number, number, number];
  const server = `https://127.0.0.1:${apiserver}`;
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(kubeconfig, kubeconfigYaml(options.name, server, tls.ca, tls.cert, tls.key), { mode: 0o600 });

  const state: ClusterState = {
    name: options.name,
    dir,
    kubeconfig,
    server,
    ports: { etcd, etcdPeer, apiserver, controllerManager, scheduler },
    components: {},
    startedAt: new Date().toISOString(),
    startSeconds: 0,
  };
  const bin = (name: string) => join(binDir, name);
  const log = (name: string) => join(logDir, `${name}.log`);

  try {
    const etcdProcess = launch(bin('etcd'), [
      '--name=default',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcd}`,
      `--advertise-client-urls=http://127.0.0.1:${etcd}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      // Test clusters are thrown away: durability is not worth the fsync latency on a shared disk.
      '--unsafe-no-fsync',
      '--log-level=warn',
    ], log('etcd'));
    state.components.etcd = etcdProcess;
    await saveState(state);
    await waitFor('etcd', etcdProcess, async () => {
      try {
        const response = await fetch(`http://127.0.0.1:${etcd}/health`);
        return response.ok;
      } catch {
        return false;
      }
    });

    const apiserverProcess = launch(bin('kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${etcd}`,
      '--bind-address=127.0.0.1',
      // A host without a default route has no address to advertise unless told.
      '--advertise-address=127.0.0.1',
      // The endpoint reconciler refuses a loopback address; nothing here needs the kubernetes Service endpoints.
      '--endpoint-reconciler-type=none',
      `--secure-port=${apiserver}`,
      `--cert-dir=${pkiDir}`,
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${pki.caCert}`,
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--authorization-mode=Node,RBAC',
      '--allow-privileged=true',
      '--profiling=false',
      '--tls-min-version=VersionTLS12',
      '--v=1',
    ], log('kube-apiserver'));
    state.components['kube-apiserver'] = apiserverProcess;
    await saveState(state);
    await waitFor('kube-apiserver', apiserverProcess, async () => (await probe(`${server}/readyz`, tls)) === 200);

    const clientFlags = [`--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`];
    const controllerManagerProcess = launch(bin('kube-controller-manager'), [
      ...clientFlags,
      '--bind-address=127.0.0.1',
      `--secure-port=${controllerManager}`,
      '--leader-elect=false',
      `--service-account-private-key-file=${pki.serviceAccountKey}`,
      `--root-ca-file=${pki.caCert}`,
      `--cluster-signing-cert-file=${pki.caCert}`,
      `--cluster-signing-key-file=${pki.caKey}`,
      '--use-service-account-credentials=true',
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--v=1',
    ], log('kube-controller-manager'));
    state.components['kube-controller-manager'] = controllerManagerProcess;

    const schedulerProcess = launch(bin('kube-scheduler'), [
      ...clientFlags,
      '--bind-address=127.0.0.1',
      `--secure-port=${scheduler}`,
      '--leader-elect=false',
      '--v=1',
    ], log('kube-scheduler'));
    state.components['kube-scheduler'] = schedulerProcess;

    const kwokProcess = launch(bin('kwok'), [
      `--kubeconfig=${kubeconfig}`,
      `--config=${join(harnessDir, 'kwok-stages.yaml')}`,
      '--manage-all-nodes=true',
      `--cidr=${POD_CIDR}`,
      '--node-ip=10.200.0.1',
      '--node-lease-duration-seconds=40',
    ], log('kwok'));
    state.components.kwok = kwokProcess;
    await saveState(state);

    const healthz = (port: number) => async () => (await probe(`https://127.0.0.1:${port}/healthz`, { cert: tls.cert, key: tls.key })) === 200;
    await waitFor('kube-controller-manager', controllerManagerProcess, healthz(controllerManager));
    await waitFor('kube-scheduler', schedulerProcess, healthz(scheduler));

    if (options.seed ?? true) await seedCluster(kubeconfig);
    state.startSeconds = Math.round((Date.now() - started) / 100) / 10;
    await saveState(state);
    return state;
  } catch (error) {
    await killComponents(state);
    await rm(stateFile(dir), { force: true });
    throw error;
  }
}

async function killComponents(state: ClusterState): Promise<void> {
  // Reverse order: clients before the API server, the API server before etcd.
  const running = [...(state.attached ?? []), ...[...COMPONENTS].reverse().flatMap((name) => {
    const component = state.components[name];
    return component ? [component] : [];
  })];
  for (const component of running) {
    try {
      process.kill(-component.pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  const deadline = Date.now() + 10_000;
  while (running.some((c) => isAlive(c.pid)) && Date.now() < deadline) await sleep(100);
  for (const component of running.filter((c) => isAlive(c.pid))) {
    try {
      process.kill(-component.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

export async function stopCluster(dir: string, options: { keepLogs?: boolean } = {}): Promise<void> {
  if (!existsSync(stateFile(dir))) return;
  const state = await loadState(dir);
  await killComponents(state);
  if (options.keepLogs) {
    await rm(stateFile(dir), { force: true });
    await rm(join(dir, 'etcd'), { recursive: true, force: true });
  } else {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Starts a process against the cluster (detached, logging into its logs folder) that stops with the cluster. */
export async function attachProcess(dir: string, name: string, binary: string, args: string[]): Promise<ComponentProcess> {
  const state = await loadState(dir);
  const started = launch(binary, args, join(dir, 'logs', `${name}.log`));
  state.attached = [...(state.attached ?? []), started];
  await saveState(state);
  return started;
}

/**
 * Stops and restarts kube-apiserver with the same flags, breaking every watch: what a control-plane
 * upgrade or crash does to an operator.
 */
export async function restartApiServer(dir: string): Promise<void> {
  const state = await loadState(dir);
  const current = state.components['kube-apiserver'];
  if (!current) throw new Error('this cluster has no kube-apiserver process');
  try {
    // A crash, not a graceful stop: graceful termination waits up to a minute for in-flight requests.
    process.kill(-current.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  while (isAlive(current.pid)) await sleep(100);
  const restarted = launch(current.binary, current.args, current.log);
  state.components['kube-apiserver'] = restarted;
  await saveState(state);
  const pkiDir = join(dir, 'pki');
  const tls = {
    ca: await readFile(join(pkiDir, 'ca.crt')),
    cert: await readFile(join(pkiDir, 'admin.crt')),
    key: await readFile(join(pkiDir, 'admin.key')),
  };
  await waitFor('kube-apiserver', restarted, async () => (await probe(`${state.server}/readyz`, tls)) === 200);
}

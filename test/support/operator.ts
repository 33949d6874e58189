/**
 * The operator as a real process (`node src/cli/main.ts operator`), the way it runs in a pod: tests
 * start it, read its JSON logs and metrics, stop it gracefully or kill it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API } from '../../src/api/refs.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { httpsGet } from './tls.ts';
import { metricsReaderToken } from './tokens.ts';
import { freePort } from '../harness/ports.ts';
import { createObject } from './cluster-objects.ts';
import { eventually, refused } from './kube.ts';
import { space as spaceObject } from './objects.ts';

const entryPoint = join(import.meta.dirname, '../../src/cli/main.ts');

export interface LogLine {
  level: string;
  msg: string;
  [field: string]: unknown;
}

export class OperatorProcess {
  readonly child: ChildProcess;
  readonly logFile: string;
  readonly exited: Promise<number | null>;
  readonly kubeconfig: string;
  #metricsToken: { token: string; until: number } | undefined;

  private constructor(child: ChildProcess, logFile: string, kubeconfig: string) {
    this.child = child;
    this.logFile = logFile;
    this.kubeconfig = kubeconfig;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  static async start(kubeconfig: string, args: string[] = [], env: Record<string, string> = {}): Promise<OperatorProcess> {
    const dir = await mkdtemp(join(tmpdir(), 'operator-'));
    const logFile = join(dir, 'operator.log');
    const fd = openSync(logFile, 'a');
    const child = spawn(process.execPath, [
      entryPoint, 'operator',
      '--kubeconfig', kubeconfig,
      '--metrics-bind-address', '127.0.0.1:0',
      '--health-probe-bind-address', '127.0.0.1:0',
      '--key-service-bind-address', '127.0.0.1:0',
      '--log-level', 'debug',
      // No admission webhook unless a test asks for one (a later --webhook-bind-address wins): a
      // registered webhook that fails closed would refuse other tests' objects once its operator stops.
      '--webhook-bind-address', '0',
      ...args,
    ], { stdio: ['ignore', fd, fd], env: { ...process.env, ...env } });
    closeSync(fd);
    const operator = new OperatorProcess(child, logFile, kubeconfig);
    await eventually('the operator to start', async () => (await operator.ports()) ?? undefined, { timeoutMs: 30_000 });
    return operator;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  async logText(): Promise<string> {
    return readFile(this.logFile, 'utf8');
  }

  async logs(): Promise<LogLine[]> {
    return (await this.logText()).split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as LogLine);
  }

  async waitForLog(what: string, match: (line: LogLine) => boolean, timeoutMs = 60_000): Promise<LogLine> {
    return eventually(what, async () => (await this.logs()).find(match), { timeoutMs });
  }

  /** Ports of the probe, metrics and key servers, from the start-up log line. */
  async ports(): Promise<{ probe: number; metrics: number; keys: number } | undefined> {
    const line = (await this.logs()).find((l) => l.msg === 'operator starting');
    if (!line) {
      if (this.child.exitCode !== null) throw new Error(`the operator exited with ${this.child.exitCode}:\n${await this.logText()}`);
      return undefined;
    }
    return { probe: Number(line.probePort), metrics: Number(line.metricsPort), keys: Number(line.keyServicePort) };
  }

  /**
   * The Prometheus metrics text (served over TLS with a self-issued certificate), read as a
   * ServiceAccount allowed to get /metrics: the operator checks the token and the permission with the
   * API server.
   */
  async metrics(): Promise<string> {
    const ports = await this.ports();
    if (!ports) throw new Error('operator not started');
    if (!this.#metricsToken || this.#metricsToken.until < Date.now()) {
      const client = KubeClient.load(this.kubeconfig);
      try {
        this.#metricsToken = { token: await metricsReaderToken(client), until: Date.now() + 5 * 60_000 };
      } finally {
        client.close();
      }
    }
    const answer = await httpsGet(ports.metrics, '/metrics', { token: this.#metricsToken.token });
    if (answer.status !== 200) throw new Error(`GET /metrics answered ${answer.status}: ${answer.text}`);
    return answer.text;
  }

  /** Value of a metric sample (summed over label sets matching `labels`), 0 when absent. */
  async metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const text = await this.metrics();
    let total = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
      total += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return total;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/**
 * Flags for an operator on loopback whose key service listens on a known port and is given to the
 * gateways by its loopback URL: a host gateway process can then get its data key, and a restarted
 * operator renders the same gateway Deployment (with port 0 each process would bind, and render,
 * another port).
 */
export function loopbackKeyServiceArgs(port: number): string[] {
  return ['--key-service-bind-address', `127.0.0.1:${port}`, '--key-service-url', `https://127.0.0.1:${port}`];
}

/**
 * An operator serving the admission webhook on loopback (the API server calls it by URL), returned
 * once the API server actually calls it. Delete the ValidatingWebhookConfiguration after stopping
 * it: a webhook that fails closed would refuse every later test's objects.
 */
export async function startWebhookOperator(kubeconfig: string, client: KubeClient, args: string[] = []): Promise<{ operator: OperatorProcess; port: number }> {
  const port = await freePort();
  const operator = await OperatorProcess.start(kubeconfig, [
    ...args,
    '--webhook-bind-address', `127.0.0.1:${port}`,
    '--webhook-url', `https://127.0.0.1:${port}`,
  ]);
  await operator.waitForLog('the webhook to serve', (line) => line.msg === 'webhook serving');
  await operator.waitForLog('the webhook to be registered', (line) => line.msg === 'webhook configuration registered');
  // The API server picks up a new webhook configuration from its own watch, a moment later: probe
  // with a dry run (our webhook has no side effects, so the API server calls it for dry runs too),
  // until the webhook judges it — not while it still answers that it has not read the cluster yet.
  await eventually('the API server to call the webhook, and the webhook to judge', async () => {
    const { message } = await refused(createObject(client, API.BackupSpace, spaceObject('probe', 'default'), { dryRun: true }));
    return message.includes('admission webhook "validate.backupspaces.tenantbackup.io"') && !message.includes('has not read the cluster yet') ? true : undefined;
  }, { timeoutMs: 60_000 });
  return { operator, port };
}

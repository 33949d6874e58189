/**
 * A real S3 server in the kind cluster: SeaweedFS (built by hack/seaweedfs/build.sh, imaged by
 * hack/kind/s3-image.sh) as a Deployment and Service in `object-storage`, over real TLS (a throwaway
 * CA and a certificate for the Service name) and with checked credentials (an identity file: without
 * one SeaweedFS accepts anonymous requests). Reached from the host through `kubectl port-forward`.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../../src/export/s3.ts';
import type { S3Connection } from '../../src/export/types.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { defaultBinDir } from '../harness/controlplane.ts';
import { createCa, issue } from '../harness/pki.ts';
import { requireWeed } from '../e2e/export-seaweedfs.ts';
import { client, kubeconfig, kubectlOk } from './support.ts';

const run = promisify(execFile);
const root = join(import.meta.dirname, '../..');
export const S3_NAMESPACE = 'object-storage';
/** The Service exposes the pods' own port: NetworkPolicy ports are matched after the Service's translation. */
export const S3_PORT = 8333;
export const S3_HOST = `s3.${S3_NAMESPACE}.svc`;

export interface ClusterS3 {
  /** As the cluster's pods reach it. */
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  caPem: string;
  caFile: string;
}

async function s3Image(cluster: string): Promise<string> {
  const weed = await requireWeed();
  const { stdout } = await run('bash', [join(root, 'hack/kind/s3-image.sh'), weed]);
  const image = stdout.trim();
  await run(join(root, '.cache/kind/bin/kind'), ['load', 'docker-image', '--name', cluster, image], { timeout: 600_000 }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`kind load docker-image ${image} failed: ${error.stderr ?? error.message}`);
  });
  return image;
}

function deployment(image: string): unknown {
  return {
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 's3', namespace: S3_NAMESPACE },
    spec: {
      replicas: 1, selector: { matchLabels: { app: 's3' } },
      template: {
        metadata: { labels: { app: 's3' } },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [{
            name: 'weed', image, imagePullPolicy: 'Never',
            // Master, volume and filer talk over loopback inside the pod; only S3 is served outside it.
            args: ['server', '-dir=/data', '-ip=127.0.0.1', '-ip.bind=0.0.0.0', '-master.volumeSizeLimitMB=64', '-volume.max=8',
              '-s3', `-s3.port=${S3_PORT}`, '-s3.config=/config/s3.json', '-s3.cert.file=/config/tls.crt', '-s3.key.file=/config/tls.key'],
            ports: [{ name: 's3', containerPort: S3_PORT }],
            // kubectl port-forward gives up at the first refused connection: the pod is Ready only once S3 listens.
            readinessProbe: { tcpSocket: { port: S3_PORT }, periodSeconds: 2 },
            securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            volumeMounts: [{ name: 'config', mountPath: '/config', readOnly: true }, { name: 'data', mountPath: '/data' }, { name: 'tmp', mountPath: '/tmp' }],
          }],
          volumes: [{ name: 'config', secret: { secretName: 's3-server' } }, { name: 'data', emptyDir: {} }, { name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}

/** Deploys the server (replacing one a kept cluster still has) and returns how to reach it. */
export async function deployClusterS3(cluster: string): Promise<ClusterS3> {
  const image = await s3Image(cluster);
  const dir = await mkdtemp(join(tmpdir(), 'kind-s3-'));
  await createCa(dir);
  await issue(dir, 'tls', `/CN=${S3_HOST}`, [
    'basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth',
    // The Service name for the cluster's pods; loopback for the host's port-forward.
    `subjectAltName=DNS:${S3_HOST},DNS:${S3_HOST}.cluster.local,DNS:localhost,IP:127.0.0.1`, '',
  ].join('\n'));
  const credentials = { accessKeyId: `AK${randomBytes(8).toString('hex')}`, secretAccessKey: randomBytes(24).toString('base64url') };
  const identities = { identities: [{ name: 'export', credentials: [{ accessKey: credentials.accessKeyId, secretKey: credentials.secretAccessKey }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }] };
  await kubectlOk(['delete', 'namespace', S3_NAMESPACE, '--ignore-not-found', '--wait=true', '--timeout=180s']);
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: S3_NAMESPACE } } });
  await client.request({
    method: 'POST', path: collectionPath(K8S.Secret, S3_NAMESPACE), body: {
      metadata: { name: 's3-server' },
      stringData: { 's3.json': JSON.stringify(identities), 'tls.crt': await readFile(join(dir, 'tls.crt'), 'utf8'), 'tls.key': await readFile(join(dir, 'tls.key'), 'utf8') },
    },
  });
  await kubectlOk(['apply', '-f', '-'], JSON.stringify(deployment(image)));
  await kubectlOk(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'v1', kind: 'Service', metadata: { name: 's3', namespace: S3_NAMESPACE },
    spec: { selector: { app: 's3' }, ports: [{ name: 's3', port: S3_PORT, targetPort: S3_PORT, protocol: 'TCP' }] },
  }));
  await kubectlOk(['rollout', 'status', '--namespace', S3_NAMESPACE, 'deployment/s3', '--timeout=300s']);
  return { endpoint: `https://${S3_HOST}:${S3_PORT}`, credentials, caPem: await readFile(join(dir, 'ca.crt'), 'utf8'), caFile: join(dir, 'ca.crt') };
}

/**
 * `kubectl port-forward` to the S3 Service, and the connection the host uses through it. kubectl ends a
 * forward for good when one forwarded connection fails inside the pod (and its connection to the kubelet
 * can drop), so `use` starts a new forward and tries again when the old one is gone.
 */
export class S3PortForward {
  #connection: S3Connection;
  #forward: { process: ChildProcess; output: () => string };
  readonly #s3: ClusterS3;

  private constructor(s3: ClusterS3, forward: { port: number; process: ChildProcess; output: () => string }) {
    this.#s3 = s3;
    this.#forward = forward;
    this.#connection = S3PortForward.#connectionThrough(s3, forward.port);
  }

  get connection(): S3Connection {
    return this.#connection;
  }

  static #connectionThrough(s3: ClusterS3, port: number): S3Connection {
    return { endpoint: `https://127.0.0.1:${port}`, region: 'us-east-1', forcePathStyle: true, credentials: s3.credentials, caFile: s3.caFile };
  }

  static async #startForward(): Promise<{ port: number; process: ChildProcess; output: () => string }> {
    const child = spawn(join(defaultBinDir, 'kubectl'), ['--kubeconfig', kubeconfig, 'port-forward', '--namespace', S3_NAMESPACE, '--address', '127.0.0.1', 'service/s3', `:${S3_PORT}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kubectl port-forward did not start within 30 s: ${output}`)), 30_000);
      const read = (text: string): void => {
        output += text;
        const match = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      };
      child.stdout.setEncoding('utf8').on('data', read);
      child.stderr.setEncoding('utf8').on('data', read);
      child.once('exit', (code) => reject(new Error(`kubectl port-forward exited with ${code}: ${output}`)));
    });
    return { port, process: child, output: () => output };
  }

  static async start(s3: ClusterS3): Promise<S3PortForward> {
    return new S3PortForward(s3, await S3PortForward.#startForward());
  }

  /** Runs `action` through the forward; when the forward has ended under it, through a new one (3 tries). */
  async use<T>(action: (connection: S3Connection) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await action(this.#connection);
      } catch (error) {
        const ended = this.#forward.process.exitCode !== null || this.#forward.process.signalCode !== null;
        if (!ended || attempt >= 3) throw error;
        console.log(`kubectl port-forward to the S3 Service had ended (${this.#forward.output().trim().split('\n').at(-1) ?? ''}); starting a new one`);
        const forward = await S3PortForward.#startForward();
        this.#forward = forward;
        this.#connection = S3PortForward.#connectionThrough(this.#s3, forward.port);
      }
    }
  }

  /** SeaweedFS takes a while to serve S3 after its pod is ready: retry until the bucket is made. */
  async createBucket(bucket: string, timeoutMs = 180_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.use((connection) => s3Client(connection).send(new CreateBucketCommand({ Bucket: bucket })));
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`the cluster's S3 server did not make bucket ${bucket} within ${timeoutMs / 1000} s: ${(error as Error).message}`, { cause: error });
        await new Promise((done) => setTimeout(done, 2000));
      }
    }
  }

  stop(): void {
    this.#forward.process.kill('SIGTERM');
  }
}

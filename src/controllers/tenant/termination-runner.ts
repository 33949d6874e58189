/**
 * Who runs a space's export and its verification: a port, so that the state machine does not care
 * whether the export runs in a Job pinned to the space's datacenter (`--export-runner=job`, real
 * clusters and kind) or in the operator's own process over a host-visible directory
 * (`--export-runner=local`, the kwok harness, where no container runs — as the gateway tests run the
 * gateway as a host process). Both run the same exportSpace / verifyExport of src/export.
 *
 * Calls are idempotent per export id: asking again for an export that is running answers `running`;
 * asking after a restart starts it again under the same id and creation time, which writes the same
 * archive (or keeps the finished one), never a second, different export.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import type { ExportTarget as ApiExportTarget } from '../../api/tenant.ts';
import { exportSpace, verifyExport, type ExportTarget, type S3Connection } from '../../export/index.ts';
import { spaceFactsOf } from '../../export/key-source.ts';
import { ACCESS_FILE, parseAccessConfig } from '../../gateway/config.ts';
import { providerDataKey } from '../backupspace/keys.ts';
import { getObject } from '../../runtime/apply.ts';
import type { KubeClient } from '../../runtime/kube/client.ts';
import { K8S } from '../../runtime/kube/resource-ref.ts';
import { secretField } from '../../runtime/kube/secrets.ts';
import { spaceObjectNames } from '../labels.ts';
import type { SpaceRecord } from './termination.ts';

export interface ExportRequest {
  tenant: string;
  /** The provider, as the bag names it (Source-Organization). */
  organization: string;
  space: SpaceRecord;
  createdAt: Date;
  target: ApiExportTarget;
}

export interface ExportOutcome {
  location: string;
  size: number;
  sha256: string;
  exportedAt: string;
}

export type ExportProgress =
  | { state: 'running'; message: string }
  | { state: 'succeeded'; result: ExportOutcome }
  | { state: 'failed'; message: string };

export type VerifyProgress =
  | { state: 'running'; message: string }
  | { state: 'verified'; verifiedAt: string; size: number; sha256: string }
  | { state: 'failed'; message: string };

export interface ExportRunner {
  readonly name: 'local' | 'job';
  export(request: ExportRequest): Promise<ExportProgress>;
  verify(request: ExportRequest, location: string): Promise<VerifyProgress>;
  /** Forgets a finished export's leftovers (a Job, a copied Secret); called once the record holds the result. */
  cleanup?(request: ExportRequest): Promise<void>;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Work running in this process, keyed by export id; a restart loses it and asks again (same id). */
class InFlight<T> {
  private readonly tasks = new Map<string, { done: boolean; value?: T; error?: unknown }>();

  poll(key: string, start: () => Promise<T>): { state: 'running' } | { state: 'done'; value: T } | { state: 'error'; error: unknown } {
    const task = this.tasks.get(key);
    if (!task) {
      const entry: { done: boolean; value?: T; error?: unknown } = { done: false };
      this.tasks.set(key, entry);
      start().then((value) => Object.assign(entry, { done: true, value }), (error: unknown) => Object.assign(entry, { done: true, error }));
      return { state: 'running' };
    }
    if (!task.done) return { state: 'running' };
    this.tasks.delete(key);
    return task.error !== undefined ? { state: 'error', error: task.error } : { state: 'done', value: task.value as T };
  }
}

export interface LocalRunnerOptions {
  client: KubeClient;
  /**
   * Host directory standing for the cluster's volumes: a space's volume is
   * `<root>/spaces/<namespace>/<space>`, a PersistentVolumeClaim target `<root>/claims/<namespace>/<claim>`.
   */
  root: string;
  /** The operator's master key, which unwraps a provider-custody space's data key. */
  masterKey: () => Promise<{ key: Buffer }>;
}

export function localSpaceDir(root: string, namespace: string, space: string): string {
  return join(root, 'spaces', namespace, space);
}

export function localClaimDir(root: string, namespace: string, claim: string): string {
  return join(root, 'claims', namespace, claim);
}

/** The S3 connection of a target: region, endpoint, the CA bundle (written to a file for the SDK). */
async function s3Connection(client: KubeClient, target: NonNullable<ApiExportTarget['s3']>): Promise<S3Connection> {
  const credentials = await getObject<V1Secret>(client, K8S.Secret, target.credentialsSecretRef.name, target.credentialsSecretRef.namespace);
  const accessKeyId = secretField(credentials, 'accessKeyId');
  const secretAccessKey = secretField(credentials, 'secretAccessKey');
  if (!accessKeyId || !secretAccessKey) {
    throw new Error(`spec.contract.exportTarget.s3.credentialsSecretRef: Secret ${target.credentialsSecretRef.namespace}/${target.credentialsSecretRef.name} must exist with keys accessKeyId and secretAccessKey`);
  }
  let caFile: string | undefined;
  const ca = target.caBundle;
  if (ca) {
    const ref = ca.configMapRef ?? ca.secretRef;
    const key = ref?.key ?? 'ca.crt';
    const pem = ca.configMapRef
      ? (await getObject<V1ConfigMap>(client, K8S.ConfigMap, ca.configMapRef.name, ca.configMapRef.namespace))?.data?.[key]
      : ca.secretRef ? secretField(await getObject<V1Secret>(client, K8S.Secret, ca.secretRef.name, ca.secretRef.namespace), key) : undefined;
    if (!pem) throw new Error(`spec.contract.exportTarget.s3.caBundle: ${ca.configMapRef ? 'ConfigMap' : 'Secret'} ${ref?.namespace}/${ref?.name} has no key ${key}`);
    const dir = join(tmpdir(), 'tenant-backup-export-ca');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    caFile = join(dir, `${ref?.namespace}-${ref?.name}.pem`);
    await writeFile(caFile, pem, { mode: 0o600 });
  }
  return {
    region: target.region,
    forcePathStyle: true,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    credentials: { accessKeyId, secretAccessKey },
    ...(caFile ? { caFile } : {}),
  };
}

/** The export library's target for the contract's target, with a PVC target as a host directory. */
export async function localTarget(client: KubeClient, root: string, target: ApiExportTarget): Promise<ExportTarget> {
  if (target.persistentVolumeClaim) return { kind: 'directory', path: localClaimDir(root, target.persistentVolumeClaim.namespace, target.persistentVolumeClaim.claimName) };
  if (target.s3) return { kind: 's3', bucket: target.s3.bucket, prefix: target.s3.prefix ?? '', ...(await s3Connection(client, target.s3)) };
  throw new Error('spec.contract.exportTarget: needs persistentVolumeClaim or s3');
}

/**
 * Runs the export in the operator's process. The space's facts come from its gateway configuration
 * Secret (access.json); a provider data key is unwrapped from the key Secret with the master key.
 */
export function localExportRunner(options: LocalRunnerOptions): ExportRunner {
  const exports = new InFlight<ExportOutcome>();
  const verifications = new InFlight<{ verifiedAt: string; size: number; sha256: string }>();

  async function runExport(request: ExportRequest): Promise<ExportOutcome> {
    const { space } = request;
    const config = await getObject<V1Secret>(options.client, K8S.Secret, spaceObjectNames(space.name).configSecret, space.namespace);
    const access = secretField(config, ACCESS_FILE);
    if (!access) throw new Error(`the gateway configuration Secret ${space.namespace}/${spaceObjectNames(space.name).configSecret} has no ${ACCESS_FILE}; the space's keys are needed to export it`);
    const parsed = parseAccessConfig(access).access;
    // A provider key is unwrapped here, in memory, as the key service does for the gateway.
    const dataKey = parsed.space.keyCustody.mode === 'provider' && parsed.space.encryptAtRest
      ? (await providerDataKey(options.client, (await options.masterKey()).key, space.namespace, space.name)).dataKey
      : null;
    const facts = spaceFactsOf(parsed, dataKey);
    if (facts.spaceUid !== space.uid) throw new Error(`the gateway configuration of ${space.namespace}/${space.name} is for space uid ${facts.spaceUid}, not ${space.uid}`);
    await mkdir(localSpaceDir(options.root, space.namespace, space.name), { recursive: true });
    const target = await localTarget(options.client, options.root, request.target);
    if (target.kind === 'directory') await mkdir(target.path, { recursive: true });
    const result = await exportSpace({
      dataDir: localSpaceDir(options.root, space.namespace, space.name),
      tenant: request.tenant,
      space: space.name,
      spaceUid: space.uid,
      exportId: space.exportId,
      organization: request.organization,
      createdAt: request.createdAt,
      key: facts.key,
      endpoints: facts.endpoints,
      target,
    });
    return { location: result.location, size: result.size, sha256: result.sha256, exportedAt: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z') };
  }

  async function runVerify(request: ExportRequest, location: string): Promise<{ verifiedAt: string; size: number; sha256: string }> {
    const target = location.startsWith('s3://') && request.target.s3 ? { s3: await s3Connection(options.client, request.target.s3) } : {};
    const verified = await verifyExport(location, target);
    return { verifiedAt: verified.verifiedAt, size: verified.size, sha256: verified.sha256 };
  }

  return {
    name: 'local',
    async export(request) {
      const polled = exports.poll(request.space.exportId, () => runExport(request));
      if (polled.state === 'running') return { state: 'running', message: `export ${request.space.exportId} of space ${request.space.name} is running in the operator` };
      if (polled.state === 'error') return { state: 'failed', message: messageOf(polled.error) };
      return { state: 'succeeded', result: polled.value };
    },
    async verify(request, location) {
      const polled = verifications.poll(`${request.space.exportId}:${location}`, () => runVerify(request, location));
      if (polled.state === 'running') return { state: 'running', message: `re-reading ${location}` };
      if (polled.state === 'error') return { state: 'failed', message: messageOf(polled.error) };
      return { state: 'verified', ...polled.value };
    },
  };
}

/**
 * A gateway started exactly as the operator configures it, for the gateway benchmark: the mounted
 * files rendered by the operator's own functions (the BackupSpace controller's TLS Secret from its
 * CA, maintenance and report-token credentials with production scrypt hashes, the access
 * configuration and config Secret with session key and peer token; the Endpoint controller's issued
 * credentials and enrolment seal; the access controller's enrolment of a tenant admin), laid out as
 * the Deployment projects them, and the gateway process run with the Deployment's own container
 * command and arguments (desiredGateway) — only the paths that name the pod's filesystem are mapped
 * onto this machine.
 *
 * Provider custody: the pod gets its data key from the operator's key service (--key-service-url).
 * The real key service checks the token with a TokenReview, which needs an API server; here a small
 * HTTPS server on a certificate from the same CA answers the key read back from the rendered key
 * Secret (readSpaceKeys), after the same bearer-token check shape. It is asked once, at start.
 */
import { createServer, type Server } from 'node:https';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { V1Secret } from '@kubernetes/client-node';
import { createCertificateAuthority, issueServingCertificate, type PemKeyPair } from '../src/pki/certificates.ts';
import { serverTlsOptions } from '../src/pki/tls-policy.ts';
import { accessInputs } from '../src/controllers/backupspace/access-step.ts';
import { renderAccessConfig } from '../src/controllers/backupspace/access-config.ts';
import { credentialHashOf } from '../src/controllers/backupspace/credentials-step.ts';
import { CONFIG_DIR, DATA_DIR, IMAGE_ENTRY_POINT, KEY_TOKEN_DIR, desiredGateway } from '../src/controllers/backupspace/desired.ts';
import { newSpaceKeys, readSpaceKeys, type Secret } from '../src/controllers/backupspace/keys.ts';
import { credentialSecret, gatewayConfigSecret, gatewayTlsSecret, peerToken, SESSION_KEY } from '../src/controllers/backupspace/secrets.ts';
import { credentialsSecret, issueCredentials } from '../src/controllers/endpoint/desired.ts';
import { enrolmentSecret, newEnrolment } from '../src/controllers/access/desired.ts';
import { spaceObjectNames } from '../src/controllers/labels.ts';
import { generateDataKey, keyIdOf } from '../src/crypto/index.ts';
import type { KubeClient } from '../src/runtime/kube/client.ts';
import { datacenter, endpoint, space, tenant } from '../test/support/objects.ts';
import { run } from '../test/support/run.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..');
const NAMESPACE = 'tenant-acme';
const SPACE = 'vault';
const TENANT = 'acme';
const ADDRESS = '127.0.0.1';

export interface OperatorGateway {
  pid: number;
  /** restic repository string of the endpoint, with its issued credential. */
  repositoryUrl: string;
  /** The CA that signs the gateway's certificate (restic --cacert), as the device is handed it. */
  caCertFile: string;
  dir: string;
  /** The command line the gateway runs with (paths mapped), for the report. */
  command: string[];
  close(): Promise<void>;
}

/** A Secret as the API server returns it: stringData folded into base64 data. */
function stored(object: unknown): Secret {
  const secret = object as V1Secret & { stringData?: Record<string, string> };
  const data = { ...secret.data, ...Object.fromEntries(Object.entries(secret.stringData ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) };
  return { ...secret, data, stringData: undefined } as unknown as Secret;
}

function field(secret: Secret, key: string): Buffer {
  const value = secret.data?.[key];
  if (value === undefined) throw new Error(`rendered Secret ${secret.metadata.name ?? ''} lacks ${key}`);
  return Buffer.from(value, 'base64');
}

/**
 * The image runs dist/cli/main.js, compiled by `npm run build` (tsconfig.build.json); the same build
 * is made here under .bench/dist (a tree of its own, so a dist/ of the checkout is left alone), so
 * the gateway runs compiled JavaScript as in the pod, not TypeScript stripped at load.
 */
export async function buildImageEntryPoint(): Promise<string> {
  const outDir = join(REPO_ROOT, '.bench/dist');
  const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  const built = await run(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json'), '--outDir', outDir, '--sourceMap', 'false'], { timeoutMs: 600_000 });
  if (built.code !== 0) throw new Error(`build of the image's entry point failed:\n${built.stdout}${built.stderr}`);
  return join(outDir, 'cli/main.js');
}

/** What the operator renders for one provider-custody space with one endpoint, and how to use it. */
export interface RenderedGateway {
  /** The pod's projected config volume: the config Secret's keys, and tls.crt, tls.key, ca.crt of the TLS Secret. */
  files: Map<string, Buffer>;
  /** The CA certificate the device is handed in its credentials Secret (restic --cacert). */
  caCertificate: string;
  endpoint: string;
  /** The endpoint's issued credential (its password). */
  credential: string;
  /** The gateway container's command and arguments, as the Deployment has them. */
  container: { command: string[]; args: string[] };
  /** What the key service answers for this space: the rendered key Secret unwrapped with the master key. */
  keyAnswer: () => string;
}

/**
 * Renders a space's gateway with the operator's functions: `ca` is the operator's CA, `keyServiceUrl`
 * where the Deployment tells the gateway to ask for its key.
 */
export async function renderOperatorGateway(ca: PemKeyPair, keyServiceUrl: string, quotaBytes: number): Promise<RenderedGateway> {
  const theTenant = tenant(TENANT, { users: [{ name: 'alice', email: 'alice@example.com', role: 'admin' }], security: { twoFactor: 'Required' } });
  const theSpace = space(SPACE, NAMESPACE, { size: `${Math.ceil(quotaBytes / 1024 ** 3)}Gi`, encryption: { atRest: true, keyCustody: 'provider' } });
  theSpace.status = { address: ADDRESS };
  const device = endpoint('laptop', NAMESPACE, SPACE);
  const names = spaceObjectNames(SPACE);
  const master = { key: generateDataKey(), id: 'bench-master' };

  // The BackupSpace controller's Secrets. A provider-custody key needs no API server to be made.
  const outcome = await newSpaceKeys(undefined as unknown as KubeClient, theSpace, TENANT, 'provider', master);
  if (!outcome.created) throw new Error(`space keys not made: ${outcome.message}`);
  const keySecret = stored(outcome.secret);
  const keys = readSpaceKeys(theSpace, keySecret, master.key);
  const tls = await gatewayTlsSecret(theSpace, TENANT, ADDRESS, ca, undefined);
  if (tls === undefined) throw new Error('no TLS Secret rendered');
  const maintenance = stored(await credentialSecret(theSpace, TENANT, names.maintenanceSecret, 'maintenance-credentials', 'maintenance'));
  const report = stored(await credentialSecret(theSpace, TENANT, names.reportTokenSecret, 'report-token', 'operator'));
  // The Endpoint controller's credentials, the access controller's enrolment of a person.
  const issued = await issueCredentials(device, new Date());
  const credentials = stored(credentialsSecret(device, theSpace, TENANT, issued, ca.certificate));
  const alice = theTenant.spec.users?.[0];
  if (alice === undefined) throw new Error('tenant without a user');
  const enrolment = stored(await enrolmentSecret(theTenant, alice, await newEnrolment(), 'tenant-backup'));
  const secrets = new Map<string, Secret>([
    [credentials.metadata.name ?? '', credentials],
    [enrolment.metadata.name ?? '', enrolment],
    [maintenance.metadata.name ?? '', maintenance],
  ]);
  const reportTokenHash = credentialHashOf(report);
  if (reportTokenHash === undefined) throw new Error('report token without hash');
  const access = renderAccessConfig(accessInputs({ space: theSpace, tenant: theTenant, endpoints: [device], names }, keys, (name) => secrets.get(name), reportTokenHash, new Date()));
  const config = stored(gatewayConfigSecret(theSpace, TENANT, access, field(report, SESSION_KEY).toString('utf8'), peerToken(master.key, theSpace.metadata.uid ?? '')));

  const tlsSecret = stored(tls);
  const files = new Map<string, Buffer>();
  for (const key of Object.keys(config.data ?? {})) files.set(key, field(config, key));
  for (const key of ['tls.crt', 'tls.key', 'ca.crt']) files.set(key, field(tlsSecret, key));
  const deployment = desiredGateway(theSpace, TENANT, datacenter('it-mil1', 'IT'), {
    gatewayImage: 'bench',
    keyService: { url: keyServiceUrl, namespace: 'tenant-backup-system', port: Number(new URL(keyServiceUrl).port) },
  }) as unknown as { spec: { template: { spec: { containers: { command: string[]; args: string[] }[] } } } };
  const container = deployment.spec.template.spec.containers[0];
  if (container === undefined) throw new Error('no gateway container rendered');
  const keyAnswer = (): string => {
    const { keyId, dataKey } = readSpaceKeys(theSpace, keySecret, master.key);
    if (keyId === undefined || dataKey === undefined || keyIdOf(dataKey) !== keyId) throw new Error('key Secret does not read back');
    return JSON.stringify({ keyId, dataKey: dataKey.toString('base64') });
  };
  return { files, caCertificate: field(credentials, 'ca.crt').toString('utf8'), endpoint: device.metadata.name ?? '', credential: issued.credential, container, keyAnswer };
}

export interface OperatorGatewayOptions {
  baseDir: string;
  quotaBytes: number;
  /** The compiled entry point (buildImageEntryPoint). */
  entryPoint: string;
  /** Extra node flags (profiling), put before the Deployment's own. */
  nodeArgs?: string[];
  env?: Record<string, string>;
}

export async function startOperatorGateway(options: OperatorGatewayOptions): Promise<OperatorGateway> {
  const dir = await mkdtemp(join(options.baseDir, 'operator-gateway-'));
  const configDir = join(dir, 'config');
  const dataDir = join(dir, 'data');
  const tokenDir = join(dir, 'key-token');
  await Promise.all([mkdir(configDir), mkdir(dataDir), mkdir(tokenDir)]);
  let keyServer: Server | null = null;
  let child: ChildProcess | null = null;
  const close = async (): Promise<void> => {
    if (child !== null && child.exitCode === null) {
      const exited = new Promise<void>((done) => child?.once('exit', () => done()));
      child.kill('SIGTERM');
      await exited;
    }
    await new Promise<void>((done) => (keyServer === null ? done() : keyServer.close(() => done())));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const ca = await createCertificateAuthority('tenant-backup-operator');
    const token = randomBytes(32).toString('base64url');
    await writeFile(join(tokenDir, 'token'), token);

    // The key service stand-in (see the module comment), listening first: its address goes into the Deployment.
    let keyAnswer: (() => string) | null = null;
    const keyCertificate = await issueServingCertificate(ca, { commonName: 'tenant-backup-keys', ipAddresses: [ADDRESS], validityDays: 1 });
    const server = createServer(serverTlsOptions({ cert: `${keyCertificate.certificate}${ca.certificate}`, key: keyCertificate.privateKey }), (req, res) => {
      const wanted = `/v1/spaces/${NAMESPACE}/${SPACE}/key`;
      if (req.url !== wanted || req.headers.authorization !== `Bearer ${token}` || keyAnswer === null) {
        res.writeHead(req.url === wanted ? 401 : 404).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(keyAnswer());
    });
    keyServer = server;
    await new Promise<void>((done) => server.listen(0, ADDRESS, () => done()));
    const rendered = await renderOperatorGateway(ca, `https://${ADDRESS}:${(server.address() as AddressInfo).port}`, options.quotaBytes);
    keyAnswer = rendered.keyAnswer;

    // The pod's mounts: the projected config volume and the key-service token.
    for (const [name, content] of rendered.files) await writeFile(join(configDir, name), content, { mode: 0o440 });
    const caCertFile = join(dir, 'ca.crt');
    await writeFile(caCertFile, rendered.caCertificate);

    // The Deployment's container command and arguments, with the pod's paths mapped onto this machine.
    const mapped = (arg: string): string => {
      if (arg === IMAGE_ENTRY_POINT) return options.entryPoint;
      if (arg === CONFIG_DIR) return configDir;
      if (arg === DATA_DIR) return dataDir;
      if (arg.startsWith(`${KEY_TOKEN_DIR}/`)) return join(tokenDir, arg.slice(KEY_TOKEN_DIR.length + 1));
      if (/^0\.0\.0\.0:\d+$/.test(arg)) return `${ADDRESS}:0`;
      return arg;
    };
    const [node, ...nodeFlagsAndEntry] = rendered.container.command.map(mapped);
    if (node !== 'node') throw new Error(`unexpected gateway command ${rendered.container.command.join(' ')}`);
    const argv = [...(options.nodeArgs ?? []), ...nodeFlagsAndEntry, ...rendered.container.args.map(mapped)];
    const spawned = spawn(process.execPath, argv, { cwd: REPO_ROOT, env: { ...process.env, NODE_ENV: 'production', ...options.env }, stdio: ['ignore', 'ignore', 'pipe'] });
    child = spawned;
    const logs: string[] = [];
    const port = await new Promise<number>((done, fail) => {
      let buffered = '';
      let listening = 0;
      spawned.stderr.setEncoding('utf8').on('data', (text: string) => {
        buffered += text;
        if (logs.length < 200) logs.push(text);
        for (const line of buffered.split('\n')) {
          if (listening === 0 && line.includes('"gateway listening"')) listening = (JSON.parse(line) as { port: number }).port;
        }
        // Listening is not enough: the pod is ready once the key has come from the key service.
        if (listening !== 0 && buffered.includes('data key obtained')) done(listening);
      });
      spawned.once('exit', (code) => fail(new Error(`operator-configured gateway exited with ${String(code)}:\n${logs.join('')}`)));
      setTimeout(() => fail(new Error(`operator-configured gateway not ready within 60 s:\n${logs.join('')}`)), 60_000).unref();
    });
    const repositoryUrl = `rest:https://${encodeURIComponent(rendered.endpoint)}:${encodeURIComponent(rendered.credential)}@${ADDRESS}:${port}/${rendered.endpoint}/`;
    return { pid: spawned.pid ?? -1, repositoryUrl, caCertFile, dir, command: [process.execPath, ...argv], close };
  } catch (error) {
    await close();
    throw error;
  }
}

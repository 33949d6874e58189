/**
 * A real gateway for end-to-end tests and the benchmark: a throwaway TLS CA and server certificate
 * made with the openssl CLI, an access configuration with freshly generated credentials (hashed with
 * src/crypto as the operator would), and `tenant-backup gateway` running as a child process — the
 * same entry point the image runs, with the node flags the image should use (GATEWAY_NODE_FLAGS).
 * Plus helpers to drive the real restic client against it.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'node:https';
import { TOTP } from 'otpauth';
import {
  TEST_SCRYPT_PARAMS,
  generateCredential,
  generateDataKey,
  generateTotpSecret,
  hashSecret,
  keyIdOf,
  sealWithPassword,
  type ScryptParams,
} from '../../src/crypto/index.ts';
import type { GatewayAccessConfig, HumanAccess, TwoFactorPolicy } from '../../src/gateway/access-config.ts';
import type { GatewayReport } from '../../src/gateway/report-contract.ts';
import { GATEWAY_NODE_FLAGS } from '../../src/gateway/command.ts';
import { GATEWAY_STATE_DIR } from '../../src/gateway/paths.ts';
import { requireCommand } from '../harness/commands.ts';
import { freePorts } from '../harness/ports.ts';
import { run, type RunResult } from '../support/run.ts';

export { run, type RunResult };

const execFileAsync = promisify(execFile);
const REPO_ROOT = resolve(import.meta.dirname, '../..');
const NODE = process.execPath;
const SPACE_NAMESPACE = 'tenant-acme';
const SPACE_NAME = 'space-1';

/**
 * The gateway subcommand exactly as src/cli/main.ts registers it, without loading the other
 * subcommands: these tests exercise the gateway, not the rest of the image (the registration itself
 * is checked by running `src/cli/main.ts gateway --help`).
 */
const GATEWAY_ENTRY = `
import { Command } from 'commander';
import { registerGatewayCommand } from ${JSON.stringify(join(REPO_ROOT, 'src/gateway/command.ts'))};
const program = new Command('tenant-backup').exitOverride((error) => process.exit(error.exitCode));
registerGatewayCommand(program);
await program.parseAsync(['node', 'tenant-backup', ...process.argv.slice(1)]);
`;

export async function requireTools(): Promise<void> {
  await requireCommand('restic', 'apt-get install -y restic');
  await requireCommand('openssl', 'apt-get install -y openssl');
}

export interface EndpointSpec {
  name: string;
  repository?: string;
  enabled?: boolean;
}

export interface UserSpec {
  name: string;
  role: HumanAccess['role'];
  /** Enrol in TOTP (always true under two-factor). */
  totp?: boolean;
}

export interface FixtureOptions {
  endpoints: EndpointSpec[];
  quotaBytes?: number;
  appendOnly?: boolean;
  encryptAtRest?: boolean;
  custody?: 'provider' | 'customer';
  humansPolicy?: TwoFactorPolicy;
  users?: UserSpec[];
  /** Cheaper scrypt for hashes the test does not care about timing of (default: production cost). */
  scrypt?: ScryptParams;
  /** Extra environment for the gateway process. */
  env?: Record<string, string>;
  /** Extra node flags for the gateway process (profiling, V8 tracing). */
  nodeArgs?: string[];
  /** info (default) or more verbose: the fixture learns the port from the "gateway listening" line. */
  logLevel?: string;
  /** Where to create the fixture's directory (default: the OS temporary directory). */
  baseDir?: string;
  /** Extra arguments of the gateway command (e.g. `--peers`). */
  args?: string[];
  /** Port to listen on (default: any free one). */
  port?: number;
  /** Put ca.crt and a peer token in the config dir, as the operator's config Secret does, so replicas can relay an unseal. */
  peering?: boolean;
}

export interface Secrets {
  endpoints: Record<string, string>;
  maintenance: { username: string; secret: string };
  reportToken: string;
  users: Record<string, { password: string; totpSecret?: string }>;
  customerPassword: string;
  /** Provider custody: the data key written to data.key. Customer custody: the key sealed in the record. */
  dataKey: Buffer;
  /** The replicas' peer token (written to peer.token when the fixture peers). */
  peerToken: string;
}

export class GatewayFixture {
  readonly dir: string;
  readonly configDir: string;
  readonly dataDir: string;
  readonly caCert: string;
  readonly secrets: Secrets;
  access: GatewayAccessConfig;
  port = 0;
  #process: ChildProcess | null = null;
  #logs: string[] = [];
  readonly #options: FixtureOptions;
  /** False for a replica(): the first fixture owns the directory. */
  #ownsDir = true;

  private constructor(dir: string, access: GatewayAccessConfig, secrets: Secrets, options: FixtureOptions) {
    this.dir = dir;
    this.configDir = join(dir, 'config');
    this.dataDir = join(dir, 'data');
    this.caCert = join(dir, 'ca.crt');
    this.access = access;
    this.secrets = secrets;
    this.#options = options;
    this.port = options.port ?? 0;
  }

  /** Makes certificates, credentials and configuration, then starts the gateway. */
  static async start(options: FixtureOptions): Promise<GatewayFixture> {
    await requireTools();
    const dir = await mkdtemp(join(options.baseDir ?? tmpdir(), 'gateway-e2e-'));
    const { access, secrets } = await makeAccessConfig(options);
    const fixture = new GatewayFixture(dir, access, secrets, options);
    try {
      await mkdir(fixture.configDir, { recursive: true });
      await mkdir(fixture.dataDir, { recursive: true });
      await makeCertificates(dir, fixture.configDir);
      await fixture.writeAccess(access);
      if ((options.custody ?? 'provider') === 'provider') {
        await writeFile(join(fixture.configDir, 'data.key'), `${secrets.dataKey.toString('base64')}\n`, { mode: 0o600 });
      }
      if (options.peering === true) {
        await writeFile(join(fixture.configDir, 'ca.crt'), await readFile(fixture.caCert));
        await writeFile(join(fixture.configDir, 'peer.token'), `${secrets.peerToken}\n`, { mode: 0o600 });
      }
      await fixture.startProcess();
    } catch (error) {
      await fixture.close();
      throw error;
    }
    return fixture;
  }

  /**
   * A gateway on a configuration made elsewhere — rendered by the operator — laid out as start()
   * lays out its own: `dir`/config (the mounted files), `dir`/data, `dir`/ca.crt. `secrets` are
   * what the test read from the cluster; the fixture's helpers use them as they would their own.
   */
  static async onConfig(dir: string, access: GatewayAccessConfig, secrets: Secrets, options: Omit<FixtureOptions, 'endpoints' | 'peering'>): Promise<GatewayFixture> {
    await requireTools();
    const fixture = new GatewayFixture(dir, access, secrets, { ...options, endpoints: [] });
    await fixture.startProcess();
    return fixture;
  }

  /**
   * Another replica of the same space: a second gateway process on the same config and data
   * directories (as pods share the config Secret and the volume), with its own port.
   */
  async replica(options: Pick<FixtureOptions, 'port'> = {}): Promise<GatewayFixture> {
    const replica = new GatewayFixture(this.dir, this.access, this.secrets, { ...this.#options, port: options.port });
    replica.#ownsDir = false;
    await replica.startProcess();
    return replica;
  }

  get logs(): string {
    return this.#logs.join('');
  }

  get pid(): number {
    return this.#process?.pid ?? -1;
  }

  async writeAccess(access: GatewayAccessConfig): Promise<void> {
    this.access = access;
    await writeFile(join(this.configDir, 'access.json'), JSON.stringify(access, null, 2), { mode: 0o600 });
  }

  /** Starts (or restarts) the gateway process and waits until it listens. */
  async startProcess(): Promise<void> {
    this.#logs = [];
    const child = spawn(
      NODE,
      [...GATEWAY_NODE_FLAGS, ...(this.#options.nodeArgs ?? []), '--input-type=module', '-e', GATEWAY_ENTRY, 'gateway', '--config-dir', this.configDir, '--data-dir', this.dataDir, '--listen', `127.0.0.1:${this.port}`, '--log-level', this.#options.logLevel ?? 'info', ...(this.#options.args ?? [])],
      { cwd: REPO_ROOT, env: { ...process.env, ...this.#options.env }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.#process = child;
    child.stdout.setEncoding('utf8').on('data', (text: string) => this.#logs.push(text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      this.#logs.push(text);
      if (process.env.GATEWAY_TEST_LOGS === '1') process.stderr.write(text);
    });
    this.port = await new Promise<number>((resolvePort, reject) => {
      let buffered = '';
      const onData = (text: string): void => {
        buffered += text;
        for (const line of buffered.split('\n')) {
          if (!line.includes('"gateway listening"')) continue;
          const record = JSON.parse(line) as { port: number };
          child.stderr.off('data', onData);
          resolvePort(record.port);
          return;
        }
      };
      child.stderr.on('data', onData);
      child.once('exit', (code) => reject(new Error(`gateway exited with ${String(code)} before listening:\n${this.logs}`)));
      setTimeout(() => reject(new Error(`gateway did not report listening within 30 s (log level must be info or lower):\n${this.logs}`)), 30_000).unref();
    });
  }

  /** Sends SIGTERM and waits for a clean exit; returns the exit code. */
  async stopProcess(): Promise<number | null> {
    const child = this.#process;
    if (child === null || child.exitCode !== null) return child?.exitCode ?? null;
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    child.kill('SIGTERM');
    const code = await exited;
    this.#process = null;
    return code;
  }

  async close(): Promise<void> {
    await this.stopProcess();
    if (this.#ownsDir && process.env.KEEP_GATEWAY_E2E !== '1') await rm(this.dir, { recursive: true, force: true });
  }

  /** restic repository URL of an endpoint, authenticating as `user` (default: the endpoint itself). */
  repositoryUrl(endpoint: string, user = endpoint, password = this.secrets.endpoints[user] ?? this.secrets.maintenance.secret): string {
    return `rest:https://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${this.port}/${endpoint}/`;
  }

  baseUrl(): string {
    return `https://127.0.0.1:${this.port}`;
  }

  /** One HTTPS request trusting the test CA; returns status, headers and body text. */
  async fetch(path: string, init: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {}): Promise<FetchResult> {
    const ca = await readFile(this.caCert);
    return new Promise((done, fail) => {
      const req = request(`${this.baseUrl()}${path}`, { method: init.method ?? 'GET', headers: init.headers, ca }, (res) => {
        const parts: Buffer[] = [];
        res.on('data', (part: Buffer) => parts.push(part));
        res.once('error', fail);
        res.once('end', () => {
          const body = Buffer.concat(parts);
          done({ status: res.statusCode ?? 0, headers: res.headers, body, text: body.toString('utf8') });
        });
      });
      req.once('error', fail);
      req.end(init.body);
    });
  }

  basicAuth(user: string, password: string): Record<string, string> {
    return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
  }

  /** Basic authentication of an endpoint with its own credential. */
  endpointAuth(endpoint: string): Record<string, string> {
    const password = this.secrets.endpoints[endpoint];
    if (password === undefined) throw new Error(`endpoint ${endpoint} has no credential in this fixture`);
    return this.basicAuth(endpoint, password);
  }

  /** The gateway's report, read with the operator's token as the operator reads it. */
  async report(): Promise<GatewayReport> {
    const response = await this.fetch('/v1/report', { headers: { Authorization: `Bearer ${this.secrets.reportToken}` } });
    if (response.status !== 200) throw new Error(`GET /v1/report failed: ${response.status} ${response.text}`);
    return JSON.parse(response.text) as GatewayReport;
  }

  /** The gateway's Prometheus metrics, read with the report token a scraper is given. */
  async metrics(): Promise<string> {
    const response = await this.fetch('/metrics', { headers: { Authorization: `Bearer ${this.secrets.reportToken}` } });
    if (response.status !== 200) throw new Error(`GET /metrics failed: ${response.status} ${response.text}`);
    return response.text;
  }

  /** A current TOTP code of a user (from the enrolment secret the fixture generated). */
  totpCode(user: string, offsetSteps = 0): string {
    const secret = this.secrets.users[user]?.totpSecret;
    if (secret === undefined) throw new Error(`user ${user} has no TOTP enrolment`);
    return new TOTP({ secret, algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: Date.now() + offsetSteps * 30_000 });
  }

  /** Signs in on the human routes and returns the bearer token. */
  async signIn(user: string, code?: string): Promise<string> {
    const response = await this.fetch('/v1/session', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user, password: this.secrets.users[user]?.password, code }),
    });
    if (response.status !== 200) throw new Error(`sign-in of ${user} failed: ${response.status} ${response.text}`);
    return (JSON.parse(response.text) as { token: string }).token;
  }
}

/**
 * `count` replicas of one space, as its pods are: gateway processes on one config and one data
 * dir, each told all of them with --peers (itself included, as a headless Service lists it).
 */
export async function startReplicas(count: number, options: Omit<FixtureOptions, 'port' | 'args' | 'peering'>): Promise<GatewayFixture[]> {
  const ports = await freePorts(count);
  const first = await GatewayFixture.start({ ...options, peering: true, port: ports[0], args: ['--peers', ports.map((port) => `127.0.0.1:${port}`).join(',')] });
  const replicas = [first];
  try {
    for (const port of ports.slice(1)) replicas.push(await first.replica({ port }));
  } catch (error) {
    await closeReplicas(replicas);
    throw error;
  }
  return replicas;
}

/** Stops replicas, the first (which owns the directories) last. */
export async function closeReplicas(replicas: readonly GatewayFixture[]): Promise<void> {
  for (const replica of replicas.slice(1).reverse()) await replica.close();
  await replicas[0]?.close();
}

async function makeAccessConfig(options: FixtureOptions): Promise<{ access: GatewayAccessConfig; secrets: Secrets }> {
  const params = options.scrypt;
  const hash = (secret: string): Promise<string> => (params === undefined ? hashSecret(secret) : hashSecret(secret, params));
  const uid = `uid-${randomBytes(8).toString('hex')}`;
  const dataKey = generateDataKey();
  const customerPassword = `customer-${randomBytes(12).toString('base64url')}`;
  const secrets: Secrets = {
    endpoints: {},
    maintenance: { username: 'maintenance', secret: generateCredential() },
    reportToken: generateCredential(),
    users: {},
    customerPassword,
    dataKey,
    peerToken: randomBytes(32).toString('base64url'),
  };
  const endpoints = [];
  for (const spec of options.endpoints) {
    const secret = generateCredential();
    secrets.endpoints[spec.name] = secret;
    endpoints.push({ name: spec.name, credentialHash: await hash(secret), repository: spec.repository ?? `endpoints/${spec.name}`, enabled: spec.enabled ?? true });
  }
  const policy = options.humansPolicy ?? 'two-factor';
  const users: HumanAccess[] = [];
  for (const spec of options.users ?? [{ name: 'alice', role: 'admin' }]) {
    const password = `pw-${randomBytes(9).toString('base64url')}`;
    const totpSecret = policy === 'two-factor' || spec.totp === true ? generateTotpSecret() : undefined;
    secrets.users[spec.name] = { password, totpSecret };
    users.push({ name: spec.name, email: `${spec.name}@example.com`, role: spec.role, passwordHash: await hash(password), ...(totpSecret === undefined ? {} : { totpSecret }) });
  }
  const custody =
    (options.custody ?? 'provider') === 'provider'
      ? { mode: 'provider' as const, keyId: keyIdOf(dataKey) }
      : { mode: 'customer' as const, keyId: keyIdOf(dataKey), record: await sealWithPassword(dataKey, customerPassword, uid, params ?? TEST_SCRYPT_PARAMS) };
  const access: GatewayAccessConfig = {
    version: 1,
    space: {
      namespace: SPACE_NAMESPACE,
      name: SPACE_NAME,
      uid,
      quotaBytes: options.quotaBytes ?? 10 * 1024 ** 3,
      appendOnly: options.appendOnly ?? false,
      encryptAtRest: options.encryptAtRest ?? true,
      keyCustody: custody,
    },
    endpoints,
    maintenance: { username: secrets.maintenance.username, credentialHash: await hash(secrets.maintenance.secret) },
    humans: { policy, users },
    reportTokenHash: await hash(secrets.reportToken),
  };
  return { access, secrets };
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await execFileAsync('openssl', args, { cwd });
}

/** A CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI. */
export async function makeCertificates(dir: string, configDir: string): Promise<void> {
  await openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', '/CN=gateway-e2e-ca'], dir);
  await openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(configDir, 'tls.key'), '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  // The Service name too, as the operator issues it: replicas check it on each other (src/gateway/peers.ts).
  await writeFile(join(dir, 'server.ext'), `subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:${SPACE_NAME}-gateway.${SPACE_NAMESPACE}.svc\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n`);
  await openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', join(configDir, 'tls.crt'), '-days', '2', '-extfile', 'server.ext'], dir);
}

export interface FetchResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  text: string;
}

/**
 * Runs restic with the test CA, a throwaway cache and the client-side repository password. The cache
 * is in the fixture's directory unless `cacheDir` says otherwise (a test whose fixture lives on a
 * small filesystem keeps restic's own files off it).
 */
export function restic(fixture: GatewayFixture, repositoryUrl: string, args: string[], options: { timeoutMs?: number; cacheDir?: string } = {}): Promise<RunResult> {
  return run('restic', ['--repo', repositoryUrl, '--cacert', fixture.caCert, '--cache-dir', options.cacheDir ?? join(fixture.dir, 'restic-cache'), ...args], {
    env: { ...process.env, RESTIC_PASSWORD: 'client-side-repository-password' },
    timeoutMs: options.timeoutMs ?? 300_000,
  });
}

/** Fails with restic's output when it did not succeed. */
export function expectSuccess(result: RunResult, what: string): RunResult {
  if (result.code !== 0) throw new Error(`${what} failed with exit code ${result.code}:\n${result.stderr}\n${result.stdout}`);
  return result;
}

/**
 * A tree to back up: nested directories, small text files carrying a recognisable marker, empty files
 * and one multi-megabyte random file. Returns the markers planted.
 */
export async function generateTree(root: string, options: { randomBytes: number; marker: string }): Promise<void> {
  const dirs = ['a', 'a/b', 'a/b/c', 'd', 'd/e'];
  for (const dir of dirs) await mkdir(join(root, dir), { recursive: true });
  for (const [i, dir] of dirs.entries()) {
    await writeFile(join(root, dir, `note-${i}.txt`), `${options.marker} file ${i} in ${dir}\n`.repeat(200 + i * 50));
    await writeFile(join(root, dir, `empty-${i}`), '');
  }
  await writeFile(join(root, 'a/b/c/random.bin'), randomBytes(options.randomBytes));
  await writeFile(join(root, 'd/e/small-random.bin'), randomBytes(70_000));
}

/** sha256 of every regular file under `root`, keyed by relative path. */
export async function hashTree(root: string): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) hashes[relative(root, path)] = await sha256File(path);
    }
  };
  await walk(root);
  return hashes;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every file the space stores under a data directory: its repositories, without the gateway's own directory (the quota ledger). */
export async function storedFiles(dataDir: string): Promise<string[]> {
  return (await listFiles(dataDir)).filter((path) => !relative(dataDir, path).startsWith(`${GATEWAY_STATE_DIR}/`));
}

/** Every regular file under `root` (absolute paths). */
export async function listFiles(root: string): Promise<string[]> {
  const files: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) files.push(path);
    }
  };
  await walk(root);
  return files;
}

/**
 * A real S3-compatible server for the export's S3 tests: SeaweedFS (Apache-2.0), built once from the
 * Go module proxy by hack/seaweedfs/build.sh (cached under .cache/seaweedfs), run on loopback only,
 * over real TLS with a throwaway CA, with an identity file so that credentials are really checked
 * (without one SeaweedFS would accept anonymous requests).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { s3Client } from '../../src/export/s3.ts';
import type { S3Connection } from '../../src/export/types.ts';
import { freePorts } from '../harness/ports.ts';
import { makeCertificates } from './gateway-fixture.ts';

const execFileAsync = promisify(execFile);
const REPO_ROOT = resolve(import.meta.dirname, '../..');
const BUILD = 'bash hack/seaweedfs/build.sh';

/** The weed binary, building it (once, cached) when missing; fails loudly with the command. */
export async function requireWeed(): Promise<string> {
  try {
    const { stdout } = await execFileAsync('bash', [join(REPO_ROOT, 'hack/seaweedfs/build.sh')], { cwd: REPO_ROOT, timeout: 3_600_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout.trim().split('\n').at(-1) as string;
  } catch (error) {
    throw new Error(`SeaweedFS (the S3 server of the export tests) is not available and could not be built; run: ${BUILD} (needs Go 1.26+ and the Go module proxy)\n${(error as Error).message}`, { cause: error });
  }
}

export class SeaweedFs {
  readonly dir: string;
  readonly connection: S3Connection;
  readonly #process: ChildProcess;
  readonly #logs: string[];

  private constructor(dir: string, connection: S3Connection, process: ChildProcess, logs: string[]) {
    this.dir = dir;
    this.connection = connection;
    this.#process = process;
    this.#logs = logs;
  }

  get logs(): string {
    return this.#logs.join('');
  }

  static async start(): Promise<SeaweedFs> {
    const weed = await requireWeed();
    const dir = await mkdtemp(join(tmpdir(), 'seaweedfs-'));
    const tls = join(dir, 'tls');
    await mkdir(tls);
    await makeCertificates(dir, tls);
    const credentials = { accessKeyId: `AK${randomBytes(8).toString('hex')}`, secretAccessKey: randomBytes(24).toString('base64url') };
    const identities = { identities: [{ name: 'export', credentials: [{ accessKey: credentials.accessKeyId, secretKey: credentials.secretAccessKey }], actions: ['Admin', 'Read', 'Write', 'List', 'Tagging'] }] };
    await writeFile(join(dir, 's3.json'), JSON.stringify(identities), { mode: 0o600 });
    await mkdir(join(dir, 'data'));
    const [master, volume, filer, s3, masterGrpc, volumeGrpc, filerGrpc, s3Grpc] = (await freePorts(8)).map(String) as string[];
    const args = [
      'server', `-dir=${join(dir, 'data')}`, '-ip=127.0.0.1', '-ip.bind=127.0.0.1',
      `-master.port=${master}`, `-master.port.grpc=${masterGrpc}`, '-master.volumeSizeLimitMB=64',
      `-volume.port=${volume}`, `-volume.port.grpc=${volumeGrpc}`, '-volume.max=8',
      `-filer.port=${filer}`, `-filer.port.grpc=${filerGrpc}`,
      '-s3', `-s3.port=${s3}`, `-s3.port.grpc=${s3Grpc}`, `-s3.config=${join(dir, 's3.json')}`,
      `-s3.cert.file=${join(tls, 'tls.crt')}`, `-s3.key.file=${join(tls, 'tls.key')}`,
    ];
    const child = spawn(weed, args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    const logs: string[] = [];
    child.stdout.setEncoding('utf8').on('data', (text: string) => logs.push(text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => logs.push(text));
    const connection: S3Connection = { endpoint: `https://127.0.0.1:${s3}`, region: 'us-east-1', forcePathStyle: true, credentials, caFile: join(dir, 'ca.crt') };
    const server = new SeaweedFs(dir, connection, child, logs);
    try {
      await server.#waitUntilServing();
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** SeaweedFS takes ~20 s to serve S3 here: retry creating a probe bucket until it answers. */
  async #waitUntilServing(): Promise<void> {
    const client = s3Client(this.connection);
    const deadline = Date.now() + 180_000;
    for (;;) {
      if (this.#process.exitCode !== null) throw new Error(`weed server exited with ${this.#process.exitCode}:\n${this.logs.slice(-4000)}`);
      try {
        await client.send(new CreateBucketCommand({ Bucket: 'probe' }));
        return;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`weed server did not serve S3 within 180 s (${(error as Error).message}):\n${this.logs.slice(-4000)}`, { cause: error });
        await new Promise((done) => setTimeout(done, 1000));
      }
    }
  }

  async createBucket(name: string): Promise<void> {
    await s3Client(this.connection).send(new CreateBucketCommand({ Bucket: name }));
  }

  async stop(): Promise<void> {
    if (this.#process.exitCode === null) {
      const exited = new Promise((done) => this.#process.once('exit', done));
      this.#process.kill('SIGTERM');
      const timer = setTimeout(() => this.#process.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    if (process.env.KEEP_SEAWEEDFS !== '1') await rm(this.dir, { recursive: true, force: true });
  }
}

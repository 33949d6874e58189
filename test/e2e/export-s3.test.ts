/**
 * The S3 target against a real S3 server (SeaweedFS over TLS, credentials checked): a multipart
 * upload in several parts, the `.sha256` beside it, verification by reading it back from S3 (API and
 * `verify-export s3://…`), a restic restore from the downloaded archive, and refusals that name the
 * problem (wrong credentials, an untrusted certificate, a damaged object).
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS } from '../../src/crypto/index.ts';
import { exportSpace, verifyExport, type ExportResult } from '../../src/export/index.ts';
import { readSpaceFacts } from '../../src/export/key-source.ts';
import { s3Client } from '../../src/export/s3.ts';
import { GatewayFixture } from './gateway-fixture.ts';
import { backUpEndpoints, checkWithOrdinaryTools, cli, exportLine, requireExportTools, restoreLocal, type BackedUp } from './export-fixture.ts';
import { SeaweedFs } from './export-seaweedfs.ts';

const ENDPOINT = 'nas-03';
const PART = 5 * 1024 * 1024;
const CREATED = new Date('2026-12-01T10:00:00Z');

let s3: SeaweedFs;
let fixture: GatewayFixture;
let work: string;
let backedUp: BackedUp;
let exported: ExportResult;

beforeAll(async () => {
  await requireExportTools();
  s3 = await SeaweedFs.start();
  await s3.createBucket('exports');
  fixture = await GatewayFixture.start({ endpoints: [{ name: ENDPOINT }], encryptAtRest: true, custody: 'provider', scrypt: TEST_SCRYPT_PARAMS });
  work = await mkdtemp(join(tmpdir(), 'export-s3-'));
  // Enough data for several 5 MiB parts.
  backedUp = await backUpEndpoints(fixture, [ENDPOINT], work, 18 * 1024 * 1024);
}, 600_000);

afterAll(async () => {
  await fixture?.close();
  await s3?.stop();
  if (work !== undefined) await rm(work, { recursive: true, force: true });
});

async function download(key: string, path: string): Promise<void> {
  const response = await s3Client(s3.connection).send(new GetObjectCommand({ Bucket: 'exports', Key: key }));
  await pipeline(response.Body as Readable, createWriteStream(path));
}

describe('export to an S3-compatible store (SeaweedFS over TLS)', () => {
  it('uploads the archive in several parts and its .sha256, and verifies it by reading it back', async () => {
    const facts = await readSpaceFacts(fixture.configDir);
    exported = await exportSpace({
      ...facts,
      dataDir: fixture.dataDir,
      tenant: 'acme',
      exportId: 'term-s3',
      organization: 'Example Hosting S.p.A.',
      createdAt: CREATED,
      target: { kind: 's3', ...s3.connection, bucket: 'exports', prefix: 'tenants/acme', partSizeBytes: PART },
    });
    expect(exported.location).toBe('s3://exports/tenants/acme/acme_space-1_term-s3.tar');
    expect(exported.size).toBeGreaterThan(3 * PART);
    expect(exported.reused).toBe(false);
    const client = s3Client(s3.connection);
    const head = await client.send(new HeadObjectCommand({ Bucket: 'exports', Key: 'tenants/acme/acme_space-1_term-s3.tar', PartNumber: 1 }));
    // A multipart object answers PartsCount; a single PUT would not have parts.
    expect(head.PartsCount ?? 0).toBeGreaterThanOrEqual(3);
    expect(head.ContentLength).toBe(PART);

    const verified = await verifyExport(exported.location, { s3: s3.connection });
    expect(verified).toMatchObject({ sha256: exported.sha256, size: exported.size, files: exported.files, bytes: exported.bytes });
  });

  it('verify-export s3://… checks it from the store; the download passes sha256sum, tar and the bag; restic restores it', async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: s3.connection.credentials?.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.connection.credentials?.secretAccessKey };
    const result = await cli(['verify-export', exported.location, '--s3-endpoint', s3.connection.endpoint as string, '--s3-ca-file', s3.connection.caFile as string], env);
    expect(result.code, result.stderr).toBe(0);
    const dir = await mkdtemp(join(work, 'download-'));
    await download('tenants/acme/acme_space-1_term-s3.tar', join(dir, exported.archive));
    await download('tenants/acme/acme_space-1_term-s3.tar.sha256', join(dir, `${exported.archive}.sha256`));
    const root = await checkWithOrdinaryTools(dir, exported.archive);
    const restored = await restoreLocal(join(root, 'data/endpoints', ENDPOINT), join(work, 'restored'), backedUp.roots[ENDPOINT] as string);
    expect(restored).toEqual(backedUp.trees[ENDPOINT]);
  });

  it('the CLI exports to S3 with credentials from the environment, printing one JSON line; the same id gives the same bytes', async () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: s3.connection.credentials?.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.connection.credentials?.secretAccessKey };
    const line = exportLine(
      await cli(['export', '--data-dir', fixture.dataDir, '--config-dir', fixture.configDir, '--tenant', 'acme', '--export-id', 'term-s3', '--organization', 'Example Hosting S.p.A.', '--created', CREATED.toISOString(), '--s3-endpoint', s3.connection.endpoint as string, '--s3-bucket', 'exports', '--s3-prefix', 'cli/', '--s3-ca-file', s3.connection.caFile as string, '--s3-part-size', String(PART)], env),
    );
    expect(line).toMatchObject({ location: 's3://exports/cli/acme_space-1_term-s3.tar', sha256: exported.sha256, size: exported.size });
  });

  it('refuses wrong credentials and an untrusted certificate, naming the cause', async () => {
    const target = { kind: 's3' as const, ...s3.connection, bucket: 'exports', prefix: 'bad', partSizeBytes: PART };
    const options = { ...(await readSpaceFacts(fixture.configDir)), dataDir: fixture.dataDir, tenant: 'acme', exportId: 'term-bad', organization: 'X', createdAt: CREATED };
    await expect(exportSpace({ ...options, target: { ...target, credentials: { accessKeyId: 'nobody', secretAccessKey: 'wrong' } } })).rejects.toThrow(/S3 HEAD s3:\/\/exports\/bad\/acme_space-1_term-bad\.tar: (access denied|not authenticated|InvalidAccessKeyId|SignatureDoesNotMatch)/);
    const untrusted = { ...target, caFile: undefined };
    await expect(exportSpace({ ...options, target: untrusted })).rejects.toThrow(/certificate/i);
    const env = { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' };
    const result = await cli(['verify-export', exported.location, '--s3-endpoint', s3.connection.endpoint as string], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('AWS_ACCESS_KEY_ID');
  });

  it('refuses a damaged object in the store', async () => {
    const client = s3Client(s3.connection);
    const key = 'damaged/acme_space-1_term-s3.tar';
    const dir = await mkdtemp(join(work, 'damaged-'));
    const local = join(dir, 'a.tar');
    await download('tenants/acme/acme_space-1_term-s3.tar', local);
    const bytes = await readFile(local);
    bytes[bytes.length - 4096] = (bytes[bytes.length - 4096] as number) ^ 1; // inside the tag files at the end
    await client.send(new PutObjectCommand({ Bucket: 'exports', Key: key, Body: bytes }));
    await client.send(new PutObjectCommand({ Bucket: 'exports', Key: `${key}.sha256`, Body: `${exported.sha256}  acme_space-1_term-s3.tar\n` }));
    await expect(verifyExport(`s3://exports/${key}`, { s3: s3.connection })).rejects.toThrow(/archive sha256 .* differs/);
  });
});

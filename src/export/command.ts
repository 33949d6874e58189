/**
 * `tenant-backup export`, `verify-export`, `open-export` and `receive-export`: what the in-cluster
 * export Jobs run (receive-export is the relay's end beside a claim of another namespace), and what a
 * person runs by hand on a space's volume or on an archive they were given.
 *
 * export prints ONE JSON line on stdout — {exportId, location, archive, size, sha256, files, bytes}
 * — and exits 0 only after it has read its own archive back from the target and verified it.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { decodeKeyFile } from '../gateway/config.ts';
import { exportSpace } from './export.ts';
import { readSpaceFacts, type SpaceFacts } from './key-source.ts';
import { openExport } from './open.ts';
import type { ExportTarget, S3Connection } from './types.ts';
import { verifyExport } from './verify.ts';

interface S3Flags {
  s3Endpoint?: string;
  s3Bucket?: string;
  s3Prefix?: string;
  s3Region?: string;
  s3CaFile?: string;
  s3PartSize?: string;
  s3VirtualHosted?: boolean;
}

interface HttpFlags {
  httpTarget?: string;
  httpCaFile?: string;
  httpTokenFile?: string;
}

interface ExportFlags extends S3Flags, HttpFlags {
  dataDir: string;
  tenant: string;
  space?: string;
  spaceUid?: string;
  exportId: string;
  organization: string;
  created?: string;
  configDir?: string;
  dataKeyFile?: string;
  keyServiceUrl?: string;
  keyTokenFile?: string;
  targetDir?: string;
}

function addS3Flags(command: Command): Command {
  return command
    .option('--s3-endpoint <url>', 'S3-compatible endpoint URL (absent: AWS for --s3-region)')
    .option('--s3-region <region>', 'S3 region', 'us-east-1')
    .option('--s3-ca-file <file>', 'PEM CA bundle to trust for the S3 endpoint instead of the system CAs')
    .option('--s3-virtual-hosted', 'virtual-hosted-style bucket URLs instead of path-style');
}

function s3Connection(flags: S3Flags): S3Connection {
  return {
    region: flags.s3Region ?? 'us-east-1',
    forcePathStyle: flags.s3VirtualHosted !== true,
    ...(flags.s3Endpoint === undefined ? {} : { endpoint: flags.s3Endpoint }),
    ...(flags.s3CaFile === undefined ? {} : { caFile: flags.s3CaFile }),
  };
}

/** Pure: the target the flags name; throws naming the flag when they are not one target. */
export function targetOf(flags: S3Flags & HttpFlags & { targetDir?: string }): ExportTarget {
  const wantsS3 = flags.s3Bucket !== undefined || flags.s3Endpoint !== undefined;
  const named = [flags.targetDir !== undefined && '--target-dir', wantsS3 && '--s3-bucket', flags.httpTarget !== undefined && '--http-target'].filter((n): n is string => typeof n === 'string');
  if (named.length > 1) throw new Error(`give one of --target-dir, --s3-bucket or --http-target, not ${named.join(' and ')}`);
  if (flags.httpTarget === undefined && (flags.httpCaFile !== undefined || flags.httpTokenFile !== undefined)) throw new Error('--http-ca-file and --http-token-file go with --http-target');
  if (flags.targetDir !== undefined) return { kind: 'directory', path: flags.targetDir };
  if (flags.httpTarget !== undefined) {
    if (flags.httpTokenFile === undefined) throw new Error('--http-target needs --http-token-file <file> (the receiver\'s bearer token)');
    return { kind: 'http', url: flags.httpTarget, tokenFile: flags.httpTokenFile, ...(flags.httpCaFile === undefined ? {} : { caFile: flags.httpCaFile }) };
  }
  if (flags.s3Bucket === undefined) throw new Error('a target is required: --target-dir <dir>, --s3-bucket <bucket> (with --s3-endpoint for a non-AWS store) or --http-target <url>');
  let partSizeBytes: number | undefined;
  if (flags.s3PartSize !== undefined) {
    partSizeBytes = Number(flags.s3PartSize);
    if (!Number.isInteger(partSizeBytes) || partSizeBytes < 5 * 1024 * 1024) throw new Error('--s3-part-size must be a whole number of bytes, at least 5242880 (5 MiB)');
  }
  return { kind: 's3', bucket: flags.s3Bucket, prefix: flags.s3Prefix ?? '', ...s3Connection(flags), ...(partSizeBytes === undefined ? {} : { partSizeBytes }) };
}

async function spaceFacts(flags: ExportFlags): Promise<SpaceFacts> {
  if (flags.configDir !== undefined) {
    if (flags.dataKeyFile !== undefined) throw new Error('give either --config-dir or --data-key-file, not both');
    if (Boolean(flags.keyServiceUrl) !== Boolean(flags.keyTokenFile)) throw new Error('--key-service-url and --key-token-file go together');
    const keyService = flags.keyServiceUrl && flags.keyTokenFile ? { url: flags.keyServiceUrl, tokenFile: flags.keyTokenFile } : undefined;
    const facts = await readSpaceFacts(flags.configDir, keyService);
    if (flags.spaceUid !== undefined && flags.spaceUid !== facts.spaceUid) throw new Error(`--space-uid ${flags.spaceUid} differs from the uid in --config-dir (${facts.spaceUid})`);
    if (flags.space !== undefined && flags.space !== facts.space) throw new Error(`--space ${flags.space} differs from the space in --config-dir (${facts.space})`);
    return facts;
  }
  if (flags.space === undefined || flags.spaceUid === undefined) throw new Error('--space and --space-uid are required without --config-dir');
  const key = flags.dataKeyFile === undefined ? { mode: 'none' as const } : { mode: 'provider' as const, dataKey: decodeKeyFile(await readFile(flags.dataKeyFile, 'utf8'), '--data-key-file') };
  return { namespace: '', space: flags.space, spaceUid: flags.spaceUid, key, endpoints: [] };
}

function createdOf(text: string | undefined): Date {
  if (text === undefined) return new Date();
  const created = new Date(text);
  if (Number.isNaN(created.getTime()) || !/^\d{4}-\d{2}-\d{2}T/.test(text)) throw new Error(`--created must be an ISO 8601 time such as 2026-12-01T10:00:00Z, got ${JSON.stringify(text)}`);
  return created;
}

async function readPassword(file: string): Promise<string> {
  // One trailing newline is what `echo pw > file` adds; it is not part of the password.
  return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
}

export function registerExportCommands(program: Command): void {
  addS3Flags(
    program
      .command('export')
      .description("Export one space's volume into a BagIt bag in a POSIX tar (+ .sha256) at a directory or S3 target, then verify it by reading it back. Prints one JSON line.")
      .requiredOption('--data-dir <dir>', 'the space volume (the gateway --data-dir)')
      .requiredOption('--tenant <name>', 'tenant name')
      .option('--space <name>', 'BackupSpace name (default: from --config-dir)')
      .option('--space-uid <uid>', 'BackupSpace metadata.uid (default: from --config-dir)')
      .requiredOption('--export-id <id>', 'deterministic export id: lowercase letters, digits, "-"')
      .requiredOption('--organization <name>', 'bag-info Source-Organization (the provider)')
      .option('--created <time>', 'ISO 8601 time of the export decision; the same id and time give the same bytes (default: now)')
      .option('--config-dir <dir>', "the gateway's config directory: access.json, ca.crt and (outside a cluster, provider custody) data.key")
      .option('--data-key-file <file>', 'base64 data key file (provider custody) when there is no --config-dir')
      .option('--key-service-url <base>', 'with --config-dir and no data.key: get the provider data key from the operator\'s key service (as the space\'s gateway)')
      .option('--key-token-file <path>', 'the projected ServiceAccount token to present to the key service')
      .option('--target-dir <dir>', 'write the archive into this directory (a mounted PVC)')
      .option('--s3-bucket <bucket>', 'write the archive to this S3 bucket (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)')
      .option('--s3-prefix <prefix>', 'key prefix in the bucket', '')
      .option('--s3-part-size <bytes>', 'multipart part size (at least 5 MiB)')
      .option('--http-target <url>', 'send the archive to a receive-export receiver at this https:// URL')
      .option('--http-ca-file <file>', 'PEM CA bundle to trust for the receiver instead of the system CAs')
      .option('--http-token-file <file>', "file holding the receiver's bearer token"),
  ).action(async (flags: ExportFlags) => {
    const facts = await spaceFacts(flags);
    const result = await exportSpace({
      dataDir: flags.dataDir,
      tenant: flags.tenant,
      space: facts.space,
      spaceUid: facts.spaceUid,
      exportId: flags.exportId,
      organization: flags.organization,
      createdAt: createdOf(flags.created),
      key: facts.key,
      endpoints: facts.endpoints,
      target: targetOf(flags),
    });
    const { exportId, location, archive, size, sha256, files, bytes } = result;
    process.stdout.write(`${JSON.stringify({ exportId, location, archive, size, sha256, files, bytes })}\n`);
  });

  addS3Flags(
    program
      .command('verify-export')
      .description("Check an export offline: the archive's .sha256, the bag's manifests and Payload-Oxum, no file missing or extra. Exits 0 when it verifies, 1 otherwise.")
      .argument('<archive>', 'archive path, or s3://bucket/key (credentials: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)'),
  ).action(async (archive: string, flags: S3Flags) => {
    const result = await verifyExport(archive, archive.startsWith('s3://') ? { s3: s3Connection(flags) } : {});
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.stderr.write(`${result.location}: verified (${result.files} files, ${result.bytes} bytes, sha256 ${result.sha256})\n`);
  });

  program
    .command('receive-export')
    .description("Receive one export over HTTPS (from export --http-target) into a directory, e.g. a claim of another namespace: written atomically, re-read and verified on request. Prints the verification as one JSON line and exits 0 once the archive is finished and verified.")
    .requiredOption('--dir <dir>', 'directory the archive is written into (the mounted claim)')
    .requiredOption('--location <url>', 'where that directory is, as results name it, e.g. pvc://<namespace>/<claim>')
    .requiredOption('--tls-cert-file <file>', 'PEM serving certificate (and chain)')
    .requiredOption('--tls-key-file <file>', 'PEM private key of the certificate')
    .requiredOption('--token-file <file>', 'file holding the bearer token senders must present')
    .option('--listen <address>', 'host:port to listen on', ':8443')
    .option('--archive <name>', 'the one archive to take (<tenant>_<space>_<export id>.tar); others are refused')
    .action(async (flags: { dir: string; location: string; tlsCertFile: string; tlsKeyFile: string; tokenFile: string; listen: string; archive?: string }) => {
      const { startReceiver } = await import('./receiver.ts');
      const { parseListenAddress } = await import('../runtime/listen-address.ts');
      const address = parseListenAddress(flags.listen, '--listen');
      const token = await readPassword(flags.tokenFile);
      if (token === '') throw new Error(`--token-file ${flags.tokenFile} is empty`);
      const receiver = await startReceiver({
        directory: flags.dir,
        locationBase: flags.location,
        token,
        ...(flags.archive === undefined ? {} : { archive: flags.archive }),
        tls: { cert: await readFile(flags.tlsCertFile), key: await readFile(flags.tlsKeyFile) },
        host: address.host,
        port: address.port,
      });
      process.once('SIGTERM', () => void receiver.close().then(() => process.exit(143)));
      process.stderr.write(`receiving exports on ${address.host}:${receiver.port} into ${flags.dir}\n`);
      const result = await receiver.done;
      process.stdout.write(`${JSON.stringify(result)}\n`);
    });

  program
    .command('open-export')
    .description('Open a sealed (customer key custody) export with the key password alone, offline: writes plain restic repositories into --out')
    .argument('<archive>', 'archive path')
    .requiredOption('--password-file <file>', 'file holding the customer key password')
    .requiredOption('--out <dir>', 'new or empty directory for the restic repositories')
    .action(async (archive: string, flags: { passwordFile: string; out: string }) => {
      const result = await openExport(archive, await readPassword(flags.passwordFile), flags.out);
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.stderr.write(`opened ${result.repositories.length} restic repositories in ${result.out}: restic -r ${result.out}/<repository> snapshots\n`);
    });
}

/**
 * The S3-compatible store as the export sees it: a client from a connection (path-style by default,
 * credentials given or from the environment, an optional CA bundle instead of the system's), a
 * streaming multipart upload, a streaming read, and small objects for `.sha256`.
 */
import { readFileSync } from 'node:fs';
import { Agent } from 'node:https';
import { PassThrough, type Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Connection, S3Credentials } from './types.ts';

export const DEFAULT_PART_BYTES = 16 * 1024 * 1024;
export const MIN_PART_BYTES = 5 * 1024 * 1024;

function credentialsOf(connection: S3Connection): S3Credentials {
  if (connection.credentials !== undefined) return connection.credentials;
  const accessKeyId = process.env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = process.env.AWS_SECRET_ACCESS_KEY;
  if (accessKeyId === undefined || accessKeyId === '' || secretAccessKey === undefined || secretAccessKey === '') {
    throw new Error('S3 credentials are missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or pass credentials)');
  }
  const sessionToken = process.env.AWS_SESSION_TOKEN;
  return { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
}

export function s3Client(connection: S3Connection): S3Client {
  if (connection.endpoint !== undefined) {
    let url: URL;
    try {
      url = new URL(connection.endpoint);
    } catch {
      throw new Error(`S3 endpoint must be an http(s) URL, got ${JSON.stringify(connection.endpoint)}`);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`S3 endpoint must be an http(s) URL, got ${JSON.stringify(connection.endpoint)}`);
  }
  const ca = connection.caFile === undefined ? undefined : readFileSync(connection.caFile);
  return new S3Client({
    region: connection.region,
    ...(connection.endpoint === undefined ? {} : { endpoint: connection.endpoint }),
    forcePathStyle: connection.forcePathStyle ?? true,
    credentials: credentialsOf(connection),
    // Checksums on every request by default (CRC32) would make the SDK read bodies twice; the export
    // carries its own sha256 digests and verifies by reading back.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(ca === undefined ? {} : { requestHandler: { httpsAgent: new Agent({ ca, minVersion: 'TLSv1.2' }) } }),
  });
}

function isNotFound(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.name === 'NotFound' || error.name === 'NoSuchKey' || error.$metadata.httpStatusCode === 404);
}

/**
 * An S3 failure in words: HEAD answers carry no error body, so the SDK's own message can be just
 * "UnknownError"; the HTTP status says what happened. Never includes credentials.
 */
export function s3Failure(error: unknown, what: string): Error {
  if (!(error instanceof S3ServiceException)) return error instanceof Error ? new Error(`${what}: ${error.message}`, { cause: error }) : new Error(`${what}: ${String(error)}`);
  const status = error.$metadata.httpStatusCode;
  const reason =
    status === 403 ? 'access denied (HTTP 403): check the access key, secret and the bucket policy'
    : status === 401 ? 'not authenticated (HTTP 401): check the access key and secret'
    : status === 404 ? 'not found (HTTP 404): check the bucket name'
    : `${error.name}${error.message && error.message !== error.name ? ` (${error.message})` : ''}${status === undefined ? '' : ` (HTTP ${status})`}`;
  return new Error(`${what}: ${reason}`, { cause: error });
}

export async function objectExists(client: S3Client, bucket: string, key: string): Promise<boolean> {
  try {
    await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw s3Failure(error, `S3 HEAD s3://${bucket}/${key}`);
  }
}

export async function getObjectStream(client: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<Readable> {
  try {
    const response = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return response.Body as Readable;
  } catch (error) {
    if (isNotFound(error)) throw new Error(`s3://${bucket}/${key} does not exist`, { cause: error });
    throw s3Failure(error, `S3 GET s3://${bucket}/${key}`);
  }
}

export async function getSmallObject(client: S3Client, bucket: string, key: string, limit: number): Promise<string> {
  const body = await getObjectStream(client, bucket, key);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of body as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > limit) {
      body.destroy();
      throw new Error(`s3://${bucket}/${key} is larger than ${limit} bytes`);
    }
    parts.push(part);
  }
  return Buffer.concat(parts).toString('utf8');
}

export async function putSmallObject(client: S3Client, bucket: string, key: string, text: string, contentType: string): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: text, ContentType: contentType })).catch((error: unknown) => {
    throw s3Failure(error, `S3 PUT s3://${bucket}/${key}`);
  });
}

/** A multipart upload fed by writing to `stream`; the object appears only when `done` resolves. */
export interface StreamingUpload {
  stream: PassThrough;
  done(): Promise<void>;
  abort(): Promise<void>;
}

export function startUpload(client: S3Client, bucket: string, key: string, partSizeBytes = DEFAULT_PART_BYTES): StreamingUpload {
  if (!Number.isInteger(partSizeBytes) || partSizeBytes < MIN_PART_BYTES) throw new Error(`S3 part size must be an integer of at least ${MIN_PART_BYTES} bytes (5 MiB)`);
  // A small buffer: lib-storage collects a part itself; the stream only hands bytes over.
  const stream = new PassThrough({ highWaterMark: 1024 * 1024 });
  const upload = new Upload({
    client,
    params: { Bucket: bucket, Key: key, Body: stream, ContentType: 'application/x-tar' },
    partSize: partSizeBytes,
    queueSize: 2,
    leavePartsOnError: false,
  });
  const finished = upload.done();
  // Reported by done(); without a handler an early failure would be an unhandled rejection.
  finished.catch(() => undefined);
  return {
    stream,
    async done() {
      stream.end();
      await finished.catch((error: unknown) => {
        throw s3Failure(error, `S3 multipart upload to s3://${bucket}/${key}`);
      });
    },
    async abort() {
      stream.destroy();
      await upload.abort().catch(() => undefined);
      await finished.catch(() => undefined);
    },
  };
}

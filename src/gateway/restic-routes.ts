/**
 * The restic REST backend protocol, v1 and v2 (restic's doc/REST_backend.rst), on the repository of
 * one endpoint. Behaviour follows what restic's client expects and rest-server does:
 *  - HEAD/GET of a missing config or object → 404 (restic's "not exist" checks rely on it);
 *  - POST of an existing file → 403: objects are never overwritten (restic assumes no overwrite);
 *  - DELETE of a missing file → 200 (idempotent, so restic's retries do not loop);
 *  - listings in v2 (`Accept: application/vnd.x.restic.rest.v2`) carry names and sizes;
 *  - GET honours Range (restic reads parts of pack files) with 206 and Content-Range;
 *  - uploads are checked against their SHA-256 name, their Content-Length and the space quota, one
 *    account shared by every replica (quota.ts): past it → 507 Insufficient Storage, as rest-server
 *    answers a full repository; so does a full volume (ENOSPC, EDQUOT), after removing the partial file.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { AtRestIntegrityError } from './at-rest.ts';
import { atRestKeys, type GatewayContext } from './context.ts';
import { authorizeDataRequest, mayDelete, type DataAccess } from './data-auth.ts';
import { HttpError, declaredLength, discardUnreadBody, sendJson, sendText } from './http-util.ts';
import type { RouteLabel } from './metrics.ts';
import { KeyUnavailableError, SourceAbortedError } from './object-store.ts';
import { fileRefName, type DataRoute, type FileRef, type ResticObjectType } from './paths.ts';
import { EXEMPT_LOCK_MAX_BYTES, LedgerUnavailableError, QuotaExceededError, isVolumeFull, type Reservation } from './quota.ts';
import { parseRange } from './range.ts';
import { UploadChecker, UploadMismatchError } from './upload-guard.ts';

export const MEDIA_TYPE_V1 = 'application/vnd.x.restic.rest.v1';
export const MEDIA_TYPE_V2 = 'application/vnd.x.restic.rest.v2';

export function routeLabel(route: DataRoute): RouteLabel {
  if (route.kind === 'repository') return 'repository';
  if (route.kind === 'list') return 'list';
  return route.file.type === 'config' ? 'config' : 'object';
}

function methodNotAllowed(allowed: string[]): HttpError {
  return new HttpError(405, 'method not allowed', { Allow: allowed.join(', ') });
}

/** Serves one data-plane request; errors become HTTP answers (the caller catches HttpError). */
export async function handleDataRequest(context: GatewayContext, req: IncomingMessage, res: ServerResponse, route: DataRoute, query: URLSearchParams): Promise<void> {
  const access = await authorizeDataRequest(req, route.endpoint, context.config(), context.credentials);
  if (access.principal.kind === 'endpoint') context.counters.recordAgent(access.principal.name, req.headers['user-agent']);
  if (!context.vault.dataAvailable) throw new HttpError(503, context.vault.reason, { 'Retry-After': '30' });
  const method = req.method ?? 'GET';
  switch (route.kind) {
    case 'repository':
      return repositoryRequest(context, res, access, method, query);
    case 'list':
      if (method !== 'GET') throw methodNotAllowed(['GET']);
      return listRequest(context, req, res, access, route.type);
    case 'file':
      switch (method) {
        case 'HEAD':
          return headRequest(context, res, access, route.file);
        case 'GET':
          return getRequest(context, req, res, access, route.file);
        case 'POST':
          return postRequest(context, req, res, access, route.file);
        case 'DELETE':
          return deleteRequest(context, res, access, route.file);
        default:
          throw methodNotAllowed(['HEAD', 'GET', 'POST', 'DELETE']);
      }
  }
}

async function repositoryRequest(context: GatewayContext, res: ServerResponse, access: DataAccess, method: string, query: URLSearchParams): Promise<void> {
  if (method === 'DELETE') throw new HttpError(501, 'deleting a repository is not offered over the REST API');
  if (method !== 'POST') throw methodNotAllowed(['POST', 'DELETE']);
  if (query.get('create') !== 'true') throw new HttpError(400, 'expected ?create=true');
  await context.store.createRepository(access.endpoint.repository);
  context.log.info({ endpoint: access.endpoint.name, principal: access.principal.kind }, 'repository created');
  sendText(res, 200, 'created');
}

async function listRequest(context: GatewayContext, req: IncomingMessage, res: ServerResponse, access: DataAccess, type: ResticObjectType): Promise<void> {
  const objects = await context.store.list(access.endpoint.repository, type);
  if ((req.headers.accept ?? '').includes(MEDIA_TYPE_V2)) {
    sendJson(res, 200, objects, { 'Content-Type': MEDIA_TYPE_V2 });
  } else {
    sendJson(res, 200, objects.map((object) => object.name), { 'Content-Type': MEDIA_TYPE_V1 });
  }
}

async function headRequest(context: GatewayContext, res: ServerResponse, access: DataAccess, file: FileRef): Promise<void> {
  const size = await context.store.size(access.endpoint.repository, file);
  if (size === null) throw new HttpError(404, 'not found');
  res.writeHead(200, { 'Content-Length': String(size), 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream' });
  res.end();
}

async function getRequest(context: GatewayContext, req: IncomingMessage, res: ServerResponse, access: DataAccess, file: FileRef): Promise<void> {
  let opened;
  try {
    opened = await context.store.open(access.endpoint.repository, file, atRestKeys(context));
  } catch (error) {
    if (error instanceof KeyUnavailableError) throw new HttpError(503, error.message);
    if (error instanceof AtRestIntegrityError) {
      context.log.error({ endpoint: access.endpoint.name, file: fileRefName(file), err: error }, 'stored object failed its integrity check');
      throw new HttpError(500, 'stored object failed its integrity check');
    }
    throw error;
  }
  if (opened === null) throw new HttpError(404, 'not found');
  const range = opened.size === 0 ? { kind: 'whole' as const } : parseRange(req.headers.range, opened.size);
  if (range.kind === 'unsatisfiable') {
    await opened.close();
    throw new HttpError(416, 'range not satisfiable', { 'Content-Range': `bytes */${opened.size}` });
  }
  const [start, end] = range.kind === 'partial' ? [range.start, range.end] : [0, opened.size - 1];
  const headers: Record<string, string> = {
    'Content-Type': 'application/octet-stream',
    'Accept-Ranges': 'bytes',
    'Content-Length': String(opened.size === 0 ? 0 : end - start + 1),
  };
  if (range.kind === 'partial') headers['Content-Range'] = `bytes ${start}-${end}/${opened.size}`;
  res.writeHead(range.kind === 'partial' ? 206 : 200, headers);
  try {
    await pipeline(opened.read(start, end), res);
  } catch (error) {
    // Headers are gone: the only way to tell the client is to cut the response short.
    res.destroy();
    if (error instanceof AtRestIntegrityError) {
      context.log.error({ endpoint: access.endpoint.name, file: fileRefName(file), err: error }, 'stored object failed its integrity check');
    } else if (!res.writableFinished) {
      context.log.debug({ endpoint: access.endpoint.name, err: error }, 'download ended early');
    }
  }
}

async function postRequest(context: GatewayContext, req: IncomingMessage, res: ServerResponse, access: DataAccess, file: FileRef): Promise<void> {
  const { space } = context.config().access;
  const repository = access.endpoint.repository;
  const length = declaredLength(req);
  if (await context.store.exists(repository, file)) {
    discardUnreadBody(req);
    throw new HttpError(403, 'object exists and cannot be overwritten');
  }
  const exempt = file.type === 'locks' && length !== null && length <= EXEMPT_LOCK_MAX_BYTES;
  let reservation: Reservation | null;
  try {
    reservation = await context.quota.reserve(length ?? 0, { exempt });
  } catch (error) {
    discardUnreadBody(req);
    throw storageError(context, access, file, error);
  }
  if (reservation === null) {
    refuseForQuota(context, access, file, length);
    discardUnreadBody(req);
    throw quotaError();
  }
  try {
    const checker = new UploadChecker({ declaredLength: length, reservation, expectedSha256: file.type === 'config' ? null : file.id });
    const encryptWith = space.encryptAtRest ? atRestKeys(context) : null;
    if (space.encryptAtRest && encryptWith === null) throw new HttpError(503, context.vault.reason);
    const result = await context.store.put(repository, file, req, checker, encryptWith);
    if (result.status === 'exists' && file.type === 'config') throw new HttpError(403, 'object exists and cannot be overwritten');
    if (result.status === 'created') context.metrics.countUpload(access.endpoint.name, file.type, result.info.size);
    context.log.debug({ endpoint: access.endpoint.name, file: fileRefName(file), bytes: checker.bytesSeen, status: result.status }, 'stored');
    sendText(res, 200, 'stored');
  } catch (error) {
    if (error instanceof QuotaExceededError) {
      refuseForQuota(context, access, file, length);
      discardUnreadBody(req);
      throw quotaError();
    }
    if (error instanceof UploadMismatchError) {
      discardUnreadBody(req);
      throw new HttpError(400, error.message);
    }
    if (error instanceof SourceAbortedError) throw new HttpError(400, error.message);
    discardUnreadBody(req);
    throw storageError(context, access, file, error);
  } finally {
    await reservation.release();
  }
}

function quotaError(): HttpError {
  return new HttpError(507, 'insufficient storage: the space quota would be exceeded');
}

/**
 * A full volume is a 507 too (restic's REST protocol has no other answer for "no room"), told apart
 * in the message, the log (an error: the volume is smaller than the quota, or filled by something
 * else) and its own counter. The object store has already removed the partial file. A quota ledger
 * that cannot be updated is a 503: try again. Anything else goes on as it is (500).
 */
function storageError(context: GatewayContext, access: DataAccess, file: FileRef, error: unknown): unknown {
  if (isVolumeFull(error)) {
    context.metrics.countVolumeFull(access.endpoint.name);
    context.log.error({ endpoint: access.endpoint.name, file: fileRefName(file), code: (error as NodeJS.ErrnoException).code, usedBytes: context.quota.usedBytes, quotaBytes: context.config().access.space.quotaBytes }, 'upload refused: the space volume is full');
    return new HttpError(507, 'insufficient storage: the volume is full');
  }
  if (error instanceof LedgerUnavailableError) {
    context.log.error({ endpoint: access.endpoint.name, file: fileRefName(file), err: error }, 'upload refused: the quota ledger is unavailable');
    return new HttpError(503, 'the space quota cannot be checked right now', { 'Retry-After': '10' });
  }
  return error;
}

function refuseForQuota(context: GatewayContext, access: DataAccess, file: FileRef, length: number | null): void {
  context.counters.quotaRefusals.set(access.endpoint.name, (context.counters.quotaRefusals.get(access.endpoint.name) ?? 0) + 1);
  context.metrics.countQuotaRefusal(access.endpoint.name);
  context.log.warn(
    { endpoint: access.endpoint.name, file: fileRefName(file), declaredBytes: length, usedBytes: context.quota.usedBytes, reservedBytes: context.quota.reservedBytes, quotaBytes: context.config().access.space.quotaBytes },
    'upload refused: space quota exceeded',
  );
}

async function deleteRequest(context: GatewayContext, res: ServerResponse, access: DataAccess, file: FileRef): Promise<void> {
  const { space } = context.config().access;
  if (!mayDelete(access.principal, space.appendOnly, file.type)) {
    context.log.warn({ endpoint: access.endpoint.name, file: fileRefName(file) }, 'delete refused: the space is append-only');
    throw new HttpError(403, 'the space is append-only: deleting needs the maintenance credential');
  }
  const removed = await context.store.remove(access.endpoint.repository, file);
  context.log.debug({ endpoint: access.endpoint.name, principal: access.principal.kind, file: fileRefName(file), removed }, 'deleted');
  sendText(res, 200, removed ? 'deleted' : 'not present');
}

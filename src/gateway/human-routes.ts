/**
 * Routes for the tenant's people (S9 usage, S12 two-factor access, S6 unsealing):
 *
 *   POST /v1/session    {user, password, code?} → {token, expiresAt, user, role}
 *   GET  /v1/usage      space quota and usage, per endpoint bytes/objects/snapshots/last backup
 *   GET  /v1/snapshots  per endpoint, the snapshot objects the server can see (id, size, time):
 *                       restic encrypts snapshots client-side, so this is all the server knows
 *   POST /v1/unseal     {password} (admin only): unseal a customer-custody gateway — this replica,
 *                       then every other replica of the space, to which the password (checked here
 *                       first) is relayed (peers.ts); a replica that is down does not fail the unseal
 *   POST /v1/password   {newPassword, oldPassword?} (admin only): set the space password of a
 *                       customer-custody space the first time, or change it (password-route.ts)
 *
 * Everything but /v1/session needs `Authorization: Bearer <token>` from /v1/session. With the
 * tenant's policy `disabled` these routes do not exist (404).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WrongPasswordError } from '../crypto/index.ts';
import type { HumanAccess } from './access-config.ts';
import { accessInForce, type GatewayContext } from './context.ts';
import { handlePassword } from './password-route.ts';
import { signIn } from './human-auth.ts';
import { HttpError, bearerToken, readJsonBody, sendJson } from './http-util.ts';
import type { GatewayAccessConfig } from './access-config.ts';
import { UnsealError, UnsealThrottledError } from './key-vault.ts';
import type { PeerOutcome } from './peers.ts';
import { endpointReports } from './report.ts';

const SIGN_IN_REFUSED = 'sign-in refused: wrong user, password or code';
const BEARER_CHALLENGE = { 'WWW-Authenticate': 'Bearer realm="tenant-backup"' };

export function optionalString(body: unknown, field: string): string | undefined {
  const value = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[field] : undefined;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value.length === 0 || value.length > 1024) throw new HttpError(400, `field "${field}" must be a non-empty string`);
  return value;
}

export function requiredString(body: unknown, field: string): string {
  const value = optionalString(body, field);
  if (value === undefined) throw new HttpError(400, `field "${field}" is required`);
  return value;
}

/** The signed-in user of a request, from its bearer token; 401 otherwise. */
function sessionUser(context: GatewayContext, req: IncomingMessage): HumanAccess {
  const token = bearerToken(req);
  const name = token === null ? null : context.sessions.verify(token);
  const user = name === null ? undefined : context.config().users.get(name);
  if (user === undefined) {
    throw new HttpError(401, 'sign in first (POST /v1/session) and send the token as a Bearer token', BEARER_CHALLENGE);
  }
  return user;
}

/** True when the path is a human route (handled here), for routing and metrics. */
export function isHumanRoute(path: string): boolean {
  return ['/v1/session', '/v1/usage', '/v1/snapshots', '/v1/unseal', '/v1/password'].includes(path);
}

export async function handleHumanRequest(context: GatewayContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  if (context.config().access.humans.policy === 'disabled') throw new HttpError(404, 'human access is disabled for this tenant');
  const method = req.method ?? 'GET';
  const expect = (allowed: string): void => {
    if (method !== allowed) throw new HttpError(405, 'method not allowed', { Allow: allowed });
  };
  switch (path) {
    case '/v1/session':
      expect('POST');
      return createSession(context, req, res);
    case '/v1/usage':
      expect('GET');
      return usage(context, req, res);
    case '/v1/snapshots':
      expect('GET');
      return snapshots(context, req, res);
    case '/v1/unseal':
      expect('POST');
      return unseal(context, req, res);
    case '/v1/password':
      expect('POST');
      return handlePassword(context, req, res, sessionUser(context, req));
    default:
      throw new HttpError(404, 'not found');
  }
}

async function createSession(context: GatewayContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const body = await readJsonBody(req);
  const request = { user: requiredString(body, 'user'), password: requiredString(body, 'password'), code: optionalString(body, 'code'), client: req.socket.remoteAddress };
  const result = await signIn(context.config(), context.credentials, { replay: context.totpReplay, throttle: context.signInThrottle }, request);
  if (!result.ok && result.reason === 'locked') {
    const retryAfter = Math.ceil(result.retryAfterMs / 1000);
    context.log.warn({ user: request.user, client: request.client, retryAfterSeconds: retryAfter }, 'human sign-in refused: too many failed attempts');
    throw new HttpError(429, `too many failed sign-in attempts; try again in ${retryAfter} s`, { 'Retry-After': String(retryAfter) });
  }
  if (!result.ok) {
    context.log.warn({ user: request.user }, 'human sign-in refused');
    throw new HttpError(401, SIGN_IN_REFUSED);
  }
  const session = context.sessions.issue(result.user.name);
  context.log.info({ user: result.user.name, role: result.user.role }, 'human signed in');
  sendJson(res, 200, { ...session, user: result.user.name, role: result.user.role });
}

async function usage(context: GatewayContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  sessionUser(context, req);
  const { space } = context.config().access;
  await context.quota.refresh().catch(() => undefined);
  const used = context.quota.usedBytes;
  sendJson(res, 200, {
    space: { namespace: space.namespace, name: space.name, quotaBytes: space.quotaBytes, usedBytes: used, availableBytes: Math.max(0, space.quotaBytes - used), objects: context.index.totalObjects },
    dataKeyState: context.vault.state,
    endpoints: endpointReports({ config: context.config(), index: context.index, counters: context.counters }).map((e) => ({
      name: e.name,
      enabled: e.enabled,
      initialized: e.initialized,
      bytesStored: e.bytesStored,
      objects: e.objects,
      byKind: e.byKind,
      snapshots: e.snapshots,
      lastBackupAt: e.lastBackupAt,
    })),
  });
}

async function snapshots(context: GatewayContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  sessionUser(context, req);
  sendJson(res, 200, {
    endpoints: context.config().access.endpoints.map((endpoint) => ({
      name: endpoint.name,
      snapshots: context.index.snapshots(endpoint.repository).map((s) => ({ id: s.id, size: s.size, storedAt: new Date(s.storedAtMs).toISOString() })),
    })),
  });
}

async function unseal(context: GatewayContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const user = sessionUser(context, req);
  if (user.role !== 'admin') throw new HttpError(403, 'only a tenant admin may unseal the gateway');
  const password = requiredString(await readJsonBody(req), 'password');
  const access = await accessInForce(context);
  if (access.space.keyCustody.mode !== 'customer') throw new HttpError(409, 'the space is not under customer key custody');
  const wasReady = context.vault.state === 'ready';
  // Checked here even when this replica is unsealed: only a right password is sent on to the others.
  await throttledUnseal(context, access, password, user.name, req.socket.remoteAddress);
  if (!wasReady) context.log.info({ user: user.name }, 'gateway unsealed');
  sendJson(res, 200, {
    state: 'ready',
    ...(wasReady ? { message: 'already unsealed' } : {}),
    replicas: await relayUnsealToPeers(context, password, user.name),
  });
}

/** Sends a password checked here on to the other replicas; what became of each, for the answer. */
export async function relayUnsealToPeers(context: GatewayContext, password: string, user: string): Promise<{ total: number; ready: number; peers: { peer: string; outcome: string; status?: number; message?: string }[] }> {
  const peers = await context.peers.relayUnseal(password).catch((error: unknown): PeerOutcome[] => {
    context.log.error({ err: error }, 'could not find the other replicas to relay the unseal to');
    return [];
  });
  const ready = peers.filter((p) => p.outcome === 'ready').length;
  if (peers.length > 0) {
    const failed = peers.filter((p) => p.outcome !== 'ready').map(({ peer, outcome, status }) => ({ peer, outcome, status }));
    context.log[failed.length > 0 ? 'warn' : 'info']({ user, peers: peers.length, ready, failed }, 'unseal relayed to the other replicas');
  }
  return { total: 1 + peers.length, ready: 1 + ready, peers: peers.map(({ peer, outcome, status, message }) => ({ peer, outcome, status, message })) };
}

/**
 * The customer's password is guessed through a signed-in admin's session like a sign-in password:
 * it goes through the same bound (SignInThrottle, per user and per client), so wrong passwords here
 * lock the user's sign-in too, and a locked user or client is refused before any check.
 */
export async function throttledUnseal(context: GatewayContext, access: GatewayAccessConfig, password: string, user: string, client: string | undefined): Promise<void> {
  const verdict = context.signInThrottle.check(user, client);
  if (!verdict.allowed) {
    const retryAfter = Math.ceil(verdict.retryAfterMs / 1000);
    context.log.warn({ user, client, retryAfterSeconds: retryAfter }, 'unseal refused: too many failed attempts');
    throw new HttpError(429, `too many failed attempts; try again in ${retryAfter} s`, { 'Retry-After': String(retryAfter) });
  }
  try {
    await unsealChecked(context, access, password, { user });
  } catch (error) {
    if (error instanceof HttpError && error.status === 401) context.signInThrottle.failed(user, client);
    throw error;
  }
  context.signInThrottle.succeeded(user);
}

/**
 * Unseals (or, when unsealed, checks the password) through the vault's bounded attempts, turning
 * its refusals into answers: 401 wrong password, 429 too many, 409 unusable key record.
 */
export async function unsealChecked(context: GatewayContext, access: GatewayAccessConfig, password: string, who: Record<string, string>): Promise<void> {
  try {
    await context.vault.unseal(access, password);
  } catch (error) {
    if (error instanceof WrongPasswordError) {
      context.log.warn(who, 'unseal refused: wrong customer key password');
      throw new HttpError(401, 'wrong customer key password');
    }
    if (error instanceof UnsealThrottledError) {
      context.log.warn(who, 'unseal refused: too many wrong passwords');
      throw new HttpError(429, error.message, { 'Retry-After': String(error.retryAfterSeconds) });
    }
    if (error instanceof UnsealError) {
      context.log.error({ ...who, err: error }, 'unseal failed');
      throw new HttpError(409, error.message);
    }
    throw error;
  }
}

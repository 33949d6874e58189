/**
 * Routes one replica of a space's gateway calls on another (peers.ts), behind the per-space peer
 * token; without a peer token in the config dir they do not exist (404).
 *
 *   POST /v1/peer/unseal  {password} → unwrap the key with it here (each replica checks the password
 *                         itself, through the same bounded attempts as /v1/unseal); never relayed on
 *   GET  /v1/peer/state   {dataKeyState} of this replica, for the report's replica count
 *
 * There is deliberately no route that hands out the key: whoever holds the peer token could then
 * take it without the customer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { accessInForce, type GatewayContext } from './context.ts';
import { HttpError, bearerToken, readJsonBody, sendJson } from './http-util.ts';
import { requiredString, unsealChecked } from './human-routes.ts';
import { PEER_STATE_PATH, PEER_UNSEAL_PATH, peerTokenMatches } from './peers.ts';

export function isPeerRoute(path: string): boolean {
  return path === PEER_UNSEAL_PATH || path === PEER_STATE_PATH;
}

export async function handlePeerRequest(context: GatewayContext, req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const expected = context.peerToken();
  if (expected === null) throw new HttpError(404, 'not found');
  if (!peerTokenMatches(bearerToken(req), expected)) throw new HttpError(401, 'a valid peer token is required', { 'WWW-Authenticate': 'Bearer realm="tenant-backup-peer"' });
  const method = req.method ?? 'GET';
  if (path === PEER_STATE_PATH) {
    if (method !== 'GET') throw new HttpError(405, 'method not allowed', { Allow: 'GET' });
    sendJson(res, 200, { dataKeyState: context.vault.state });
    return;
  }
  if (method !== 'POST') throw new HttpError(405, 'method not allowed', { Allow: 'POST' });
  const password = requiredString(await readJsonBody(req), 'password');
  // The record in force: a password just set or changed on the relaying replica is on the volume.
  const access = await accessInForce(context);
  if (access.space.keyCustody.mode !== 'customer') throw new HttpError(409, 'the space is not under customer key custody');
  const wasReady = context.vault.state === 'ready';
  await unsealChecked(context, access, password, { relayedFrom: req.socket.remoteAddress ?? 'unknown' });
  if (!wasReady) context.log.info({ relayedFrom: req.socket.remoteAddress }, 'gateway unsealed by a peer\'s relay');
  sendJson(res, 200, { state: 'ready' });
}

/**
 * A device's enrolment (S3: the customer receives a download link and an activation code):
 *
 *   POST /v1/enrol  {endpoint, code} → {endpoint, username, password, repository, caCertificate}
 *
 * Unauthenticated — the code is the credential. It is good once and until it expires: the
 * credential comes out of the seal the operator put in the access configuration (only the code
 * opens it), the use is recorded on the volume (enrolment-ledger.ts) before anything is answered,
 * and every wrong endpoint or code counts against the same SignInThrottle as the human sign-in,
 * per endpoint and per client, so guessing is bounded (429 with Retry-After once locked). A wrong
 * endpoint and a wrong code are refused alike (401), so the route does not tell which endpoints
 * exist. The code and the credential are never logged.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { openEnrolment } from '../crypto/index.ts';
import type { GatewayContext } from './context.ts';
import { HttpError, readJsonBody, sendJson } from './http-util.ts';
import { requiredString } from './human-routes.ts';

export const ENROL_PATH = '/v1/enrol';
const REFUSED = 'enrolment refused: wrong endpoint or activation code';

/** The throttle's key for an endpoint's code (apart from people's names, which cannot contain ':'). */
const throttleKey = (endpoint: string): string => `enrol:${endpoint}`;

export async function handleEnrol(context: GatewayContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'POST') throw new HttpError(405, 'method not allowed', { Allow: 'POST' });
  const body = await readJsonBody(req);
  const name = requiredString(body, 'endpoint');
  const code = requiredString(body, 'code');
  const client = req.socket.remoteAddress;
  const verdict = context.signInThrottle.check(throttleKey(name), client);
  if (!verdict.allowed) {
    const retryAfter = Math.ceil(verdict.retryAfterMs / 1000);
    context.log.warn({ endpoint: name, client, retryAfterSeconds: retryAfter }, 'enrolment refused: too many wrong codes');
    throw new HttpError(429, `too many wrong activation codes; try again in ${retryAfter} s`, { 'Retry-After': String(retryAfter) });
  }
  const config = context.config();
  const endpoint = config.endpoints.get(name);
  const enrolment = endpoint?.enrolment;
  const { namespace } = config.access.space;
  const credential = enrolment ? await openEnrolment(enrolment.seal, code, `${namespace}/${name}`) : null;
  if (endpoint === undefined || enrolment === undefined || credential === null) {
    context.signInThrottle.failed(throttleKey(name), client);
    context.log.warn({ endpoint: name, client }, 'enrolment refused: wrong endpoint or code');
    throw new HttpError(401, REFUSED);
  }
  context.signInThrottle.succeeded(throttleKey(name));
  if (Date.now() >= Date.parse(enrolment.expiresAt)) {
    context.log.warn({ endpoint: name, expiresAt: enrolment.expiresAt }, 'enrolment refused: the activation code expired');
    throw new HttpError(410, `the activation code expired at ${enrolment.expiresAt}; ask for a new device enrolment`);
  }
  const ca = context.caCert();
  if (ca === null) throw new HttpError(503, 'the gateway has no CA certificate to give the device; try again later', { 'Retry-After': '30' });
  if (!(await context.enrolments.claim(name, enrolment.seal))) {
    context.log.warn({ endpoint: name, client }, 'enrolment refused: the activation code was used before');
    throw new HttpError(410, 'the activation code was already used; ask for a new device enrolment');
  }
  context.log.info({ endpoint: name, client }, 'device enrolled');
  sendJson(res, 200, { endpoint: name, username: name, password: credential, repository: enrolment.repositoryUrl, caCertificate: ca.toString('utf8') });
}

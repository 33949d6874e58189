/** Small HTTP helpers shared by the gateway's routes: responses, request bodies, credentials. */
import type { IncomingMessage, ServerResponse } from 'node:http';

/** An error with the status and the message a client may see (never a secret or an internal detail). */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

const COMMON_HEADERS = { 'X-Content-Type-Options': 'nosniff', 'Cache-Control': 'no-store' };

export function sendText(res: ServerResponse, status: number, message: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = Buffer.from(`${message}\n`, 'utf8');
  res.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(body.length), ...headers });
  res.end(body);
}

export function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const body = Buffer.from(JSON.stringify(value), 'utf8');
  res.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': 'application/json', 'Content-Length': String(body.length), ...headers });
  res.end(body);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  sendText(res, error.status, error.message, error.headers);
}

/** Reads a small JSON request body (human routes); 413 past `limitBytes`, 400 when not JSON. */
export async function readJsonBody(req: IncomingMessage, limitBytes = 16 * 1024): Promise<unknown> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) throw new HttpError(413, 'request body too large');
  const parts: Buffer[] = [];
  let total = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    total += part.length;
    if (total > limitBytes) throw new HttpError(413, 'request body too large');
    parts.push(part);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new HttpError(400, 'request body must be JSON');
  }
}

/** Content-Length of a request: a number, null when absent, or throws 400 when malformed. */
export function declaredLength(req: IncomingMessage): number | null {
  const header = req.headers['content-length'];
  if (header === undefined) return null;
  if (!/^[0-9]{1,15}$/.test(header)) throw new HttpError(400, 'malformed Content-Length');
  return Number(header);
}

export interface BasicCredentials {
  user: string;
  password: string;
}

/** Parses `Authorization: Basic …`; null when absent or malformed. */
export function basicCredentials(req: IncomingMessage): BasicCredentials | null {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Basic ([A-Za-z0-9+/]+={0,2})$/i.exec(header);
  if (match === null) return null;
  const decoded = Buffer.from(match[1] ?? '', 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** The token of `Authorization: Bearer …`; null when absent or malformed. */
export function bearerToken(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  const match = header === undefined ? null : /^Bearer ([A-Za-z0-9._~+/=-]+)$/i.exec(header);
  return match?.[1] ?? null;
}

/**
 * After answering before the request body was read (e.g. 507 on Content-Length), discard what the
 * client still sends: reading it keeps the client from seeing a reset before our answer. The
 * connection is not marked `Connection: close`, because Node would then end the socket as soon as
 * the answer is written, while the client is still sending, and the client would see EPIPE instead
 * of the 507. A client that goes on sending for too long is cut off (bounded in time).
 */
export function discardUnreadBody(req: IncomingMessage, graceMs = 10_000): void {
  if (req.complete) return;
  req.resume();
  const timer = setTimeout(() => req.socket.destroy(), graceMs);
  timer.unref();
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
}

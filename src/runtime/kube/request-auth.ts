/**
 * Who is calling one of the operator's HTTPS endpoints, and may they: a bearer token checked by the
 * API server (TokenReview) and a question put to its authorizer (SubjectAccessReview), the way
 * controller-runtime's secure metrics serving and kube-rbac-proxy do. One module for every endpoint
 * that needs it (the metrics server, the gateways' key service), so the checks cannot drift apart.
 *
 * Answers are cached briefly (as the API server's own webhook authenticator does): a scraper every
 * 30 s or a gateway restarting costs one review, not one per request. Only successful reviews are
 * cached, keyed by a hash of the token (the token itself is never kept, logged or echoed), and the
 * cache is bounded. Failed lookups (the API server unreachable) are not cached: the caller says 503.
 */
import { createHash } from 'node:crypto';
import type { KubeClient } from './client.ts';

/** The authenticated caller, as the TokenReview's status.user says. */
export interface Identity {
  username: string;
  uid: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/** What the caller asks to do: a non-resource URL (e.g. get /metrics). */
export interface NonResourceRequest {
  verb: string;
  path: string;
}

export interface RequestAuthOptions {
  /**
   * Audiences the token must be meant for (an audience-bound projected token). Empty: the API
   * server's own audiences, as for any ServiceAccount token.
   */
  audiences?: readonly string[];
  /** How long a positive answer is reused. */
  ttlMs?: number;
  /** Bound on cached answers; the oldest goes first. */
  maxEntries?: number;
  now?: () => number;
}

interface TokenReviewStatus {
  authenticated?: boolean;
  audiences?: string[];
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  error?: string;
}

interface SubjectAccessReviewStatus {
  allowed?: boolean;
  denied?: boolean;
}

/** The API server could not be asked: neither a yes nor a no (answer 503, not 401/403). */
export class ReviewUnavailableError extends Error {
  override readonly name = 'ReviewUnavailableError';
}

/** A small TTL cache with a size bound (insertion order = age, since entries are never refreshed). */
class AnswerCache<T> {
  readonly #entries = new Map<string, { value: T; expires: number }>();
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;

  constructor(ttlMs: number, max: number, now: () => number) {
    this.#ttlMs = ttlMs;
    this.#max = max;
    this.#now = now;
  }

  get(key: string): T | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expires > this.#now()) return entry.value;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, value: T): void {
    this.#entries.delete(key);
    while (this.#entries.size >= this.#max) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    this.#entries.set(key, { value, expires: this.#now() + this.#ttlMs });
  }
}

/** The bearer token of an Authorization header, or undefined. */
export function bearerTokenOf(header: string | undefined): string | undefined {
  const match = header === undefined ? null : /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/i.exec(header.trim());
  return match?.[1];
}

/** The username Kubernetes gives a ServiceAccount's tokens. */
export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

export class RequestAuthenticator {
  readonly #client: Pick<KubeClient, 'request'>;
  readonly #audiences: readonly string[];
  readonly #identities: AnswerCache<Identity | null>;
  readonly #decisions: AnswerCache<boolean>;

  constructor(client: Pick<KubeClient, 'request'>, options: RequestAuthOptions = {}) {
    this.#client = client;
    this.#audiences = options.audiences ?? [];
    const now = options.now ?? Date.now;
    const ttl = options.ttlMs ?? 10_000;
    const max = options.maxEntries ?? 1024;
    this.#identities = new AnswerCache(ttl, max, now);
    this.#decisions = new AnswerCache(ttl, max, now);
  }

  /**
   * The token's identity, or null when the API server says it is not a valid token (for our
   * audiences). Throws ReviewUnavailableError when the API server could not be asked.
   */
  async authenticate(token: string): Promise<Identity | null> {
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = this.#identities.get(key);
    if (cached !== undefined) return cached;
    let status: TokenReviewStatus | undefined;
    try {
      const review = await this.#client.request<{ status?: TokenReviewStatus }>({
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/tokenreviews',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, ...(this.#audiences.length > 0 ? { audiences: [...this.#audiences] } : {}) } },
        timeoutMs: 10_000,
      });
      status = review.status;
    } catch (error) {
      // The API server's message is not passed on: a TokenReview's request body is the token.
      throw new ReviewUnavailableError(`the API server did not answer the TokenReview (${errorCode(error)})`);
    }
    const identity = identityOf(status, this.#audiences);
    // A rejected token is remembered too, so that garbage cannot make us send a review per request.
    this.#identities.set(key, identity);
    return identity;
  }

  /** Whether the identity may do `request` (SubjectAccessReview). Throws ReviewUnavailableError. */
  async authorize(identity: Identity, request: NonResourceRequest): Promise<boolean> {
    const key = JSON.stringify([identity.username, identity.uid, identity.groups, request.verb, request.path]);
    const cached = this.#decisions.get(key);
    if (cached !== undefined) return cached;
    let status: SubjectAccessReviewStatus | undefined;
    try {
      const review = await this.#client.request<{ status?: SubjectAccessReviewStatus }>({
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { user: identity.username, uid: identity.uid, groups: identity.groups, extra: identity.extra, nonResourceAttributes: { verb: request.verb, path: request.path } },
        },
        timeoutMs: 10_000,
      });
      status = review.status;
    } catch (error) {
      throw new ReviewUnavailableError(`the API server did not answer the SubjectAccessReview (${errorCode(error)})`);
    }
    const allowed = status?.allowed === true && status.denied !== true;
    this.#decisions.set(key, allowed);
    return allowed;
  }
}

function errorCode(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'number' || typeof code === 'string' ? String(code) : 'no answer';
}

/** Pure: the identity a TokenReview status vouches for, or null. */
export function identityOf(status: TokenReviewStatus | undefined, audiences: readonly string[]): Identity | null {
  if (status?.authenticated !== true || !status.user?.username) return null;
  // The API server checks the audiences it was given; an older one that ignored them would return
  // none, which must not pass for a token meant for someone else.
  if (audiences.length > 0 && !audiences.some((a) => status.audiences?.includes(a))) return null;
  return { username: status.user.username, uid: status.user.uid ?? '', groups: status.user.groups ?? [], extra: status.user.extra ?? {} };
}

/** The outcome of authenticating and authorizing one request, as an HTTP status. */
export type Verdict = { ok: true; identity: Identity } | { ok: false; status: 401 | 403 | 503; message: string };

/**
 * Authenticates the Authorization header; when `request` is given, authorizes it too. The messages
 * name what is missing and never the token.
 */
export async function checkRequest(auth: RequestAuthenticator, authorization: string | undefined, request?: NonResourceRequest): Promise<Verdict> {
  const token = bearerTokenOf(authorization);
  if (token === undefined) return { ok: false, status: 401, message: 'a bearer token (a Kubernetes ServiceAccount token) is required' };
  try {
    const identity = await auth.authenticate(token);
    if (identity === null) return { ok: false, status: 401, message: 'the bearer token is not valid here (the API server rejected it, or it is meant for another audience)' };
    if (request && !(await auth.authorize(identity, request))) {
      return { ok: false, status: 403, message: `${identity.username} may not ${request.verb} ${request.path}` };
    }
    return { ok: true, identity };
  } catch (error) {
    if (error instanceof ReviewUnavailableError) return { ok: false, status: 503, message: error.message };
    throw error;
  }
}

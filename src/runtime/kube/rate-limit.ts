/**
 * Client-side limits on how hard the operator talks to the API server, as client-go has them: a
 * token bucket (QPS with a burst) in front of every request, and honouring the server's own
 * "slow down" (429 Too Many Requests, or 5xx with Retry-After, from API Priority and Fairness or
 * max-requests-inflight) by waiting what it asks and retrying.
 */

export interface RateLimit {
  /** Sustained requests per second; 0 or less disables the limit. */
  qps: number;
  /** Requests allowed at once after a quiet period. */
  burst: number;
}

/**
 * The operator's default: a guard against a runaway loop, not a pace to work at; the API server's
 * own flow control (429, honoured below) protects it beyond that. Measured with
 * `BENCH_TENANTS=100 npm run bench -- convergence` (100 tenants, ~20 requests each): unlimited
 * 10.4 s, controller-runtime's 20 QPS / burst 30 95.5 s, 100/300 27.4 s, 200/400 22.5 s.
 */
export const DEFAULT_RATE_LIMIT: RateLimit = { qps: 200, burst: 400 };

/**
 * A token bucket whose callers reserve a token and learn how long to wait for it, so waiters are
 * served in arrival order and nobody polls (golang.org/x/time/rate's Reserve).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly limit: RateLimit;
  private readonly now: () => number;

  constructor(limit: RateLimit, now: () => number = () => Date.now()) {
    if (limit.qps > 0 && !(limit.burst >= 1)) throw new Error(`rate limit: burst must be at least 1 when qps is set (got ${limit.burst})`);
    this.limit = limit;
    this.now = now;
    this.tokens = limit.burst;
    this.last = now();
  }

  /** Takes a token and returns the milliseconds to wait before using it (0: go now). */
  reserve(): number {
    if (this.limit.qps <= 0) return 0;
    const now = this.now();
    this.tokens = Math.min(this.limit.burst, this.tokens + ((now - this.last) / 1000) * this.limit.qps);
    this.last = now;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens / this.limit.qps) * 1000);
  }
}

/** Retries after a throttling answer, as client-go's default (10) before giving the answer up. */
export const MAX_THROTTLE_RETRIES = 10;
const MAX_RETRY_AFTER_MS = 60_000;

/**
 * How long the server asks us to wait before retrying, or undefined when the answer is not one to
 * retry: 429 always (default one second), 5xx only when it carries Retry-After (the server is
 * shedding load, not failing the request).
 */
export function throttleDelayMs(status: number, retryAfter: string | string[] | undefined): number | undefined {
  const header = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
  const seconds = header !== undefined && /^\d+$/.test(header.trim()) ? Number(header.trim()) : undefined;
  if (status === 429) return Math.min((seconds ?? 1) * 1000, MAX_RETRY_AFTER_MS);
  if (status >= 500 && status <= 599 && seconds !== undefined) return Math.min(seconds * 1000, MAX_RETRY_AFTER_MS);
  return undefined;
}

/**
 * The wait before a throttled request's retry: the server's delay plus up to as much again at
 * random. Requests throttled together would otherwise all come back in the same instant after
 * Retry-After and be throttled together again, round after round, until their retries run out.
 */
export function jitteredDelayMs(delay: number, random: () => number = Math.random): number {
  return Math.round(delay * (1 + random()));
}

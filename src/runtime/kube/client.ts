/**
 * A small Kubernetes REST client: JSON requests and watch streams over node:https, authenticated by
 * client-node's KubeConfig (kubeconfig files, in-cluster service-account tokens, exec plugins).
 * It exists because the operator needs exact control over what client libraries hide: resourceVersion
 * and bookmarks on watches, 410 Gone, server-side apply content types, status causes.
 */
import { Agent, request, type RequestOptions } from 'node:https';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeApiError, type KubeStatus } from './errors.ts';
import { jsonLines } from './json-lines.ts';
import { DEFAULT_RATE_LIMIT, jitteredDelayMs, MAX_THROTTLE_RETRIES, throttleDelayMs, TokenBucket, type RateLimit } from './rate-limit.ts';
import { sleep } from '../sleep.ts';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestParams {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  /** Milliseconds before the request is abandoned (not for watches). */
  timeoutMs?: number;
}

export const CONTENT_TYPE = {
  json: 'application/json',
  apply: 'application/apply-patch+yaml',
  merge: 'application/merge-patch+json',
  jsonPatch: 'application/json-patch+json',
} as const;

function queryString(query: Query | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const text = params.toString();
  return text ? `?${text}` : '';
}

export interface KubeClientOptions {
  /** Client-side request rate (default DEFAULT_RATE_LIMIT: 200 QPS, burst 400). */
  rateLimit?: RateLimit;
  /** How many times a throttled request (429, or 5xx with Retry-After) is retried (default 10). */
  maxThrottleRetries?: number;
}

export class KubeClient {
  readonly config: KubeConfig;
  private readonly server: URL;
  private readonly httpsAgent = new Agent({ keepAlive: true, maxSockets: 64 });
  private readonly httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 64 });
  private readonly bucket: TokenBucket;
  private readonly maxThrottleRetries: number;
  /** Requests the server throttled and we retried after its Retry-After (for metrics and tests). */
  throttledRetries = 0;

  constructor(config: KubeConfig, options: KubeClientOptions = {}) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.config = config;
    this.server = new URL(cluster.server);
    this.bucket = new TokenBucket(options.rateLimit ?? DEFAULT_RATE_LIMIT);
    this.maxThrottleRetries = options.maxThrottleRetries ?? MAX_THROTTLE_RETRIES;
  }

  /** From a kubeconfig file, or the in-cluster service account when no path is given and one is mounted. */
  static load(kubeconfigPath?: string, options: KubeClientOptions = {}): KubeClient {
    const config = new KubeConfig();
    if (kubeconfigPath) config.loadFromFile(kubeconfigPath);
    else config.loadFromDefault();
    return new KubeClient(config, options);
  }

  get serverUrl(): string {
    return this.server.toString();
  }

  /**
   * Sends the request when the client's rate limit allows, and again after the server's Retry-After
   * (jittered) while it throttles us; the answer returned is the first that is not a throttle (or the last).
   */
  private async open(params: RequestParams): Promise<IncomingMessage> {
    for (let attempt = 0; ; attempt++) {
      const wait = this.bucket.reserve();
      if (wait > 0) await sleep(wait, params.signal);
      params.signal?.throwIfAborted();
      const response = await this.openOnce(params);
      const delay = throttleDelayMs(response.statusCode ?? 0, response.headers['retry-after']);
      if (delay === undefined || attempt >= this.maxThrottleRetries) return response;
      response.resume();
      this.throttledRetries++;
      await sleep(jitteredDelayMs(delay), params.signal);
    }
  }

  private async openOnce(params: RequestParams): Promise<IncomingMessage> {
    const isHttps = this.server.protocol === 'https:';
    const options: RequestOptions = {
      method: params.method,
      hostname: this.server.hostname,
      port: this.server.port || (isHttps ? 443 : 80),
      path: `${this.server.pathname.replace(/\/$/, '')}${params.path}${queryString(params.query)}`,
      headers: { Accept: 'application/json' },
      agent: isHttps ? this.httpsAgent : this.httpAgent,
      signal: params.signal,
    };
    await this.config.applyToHTTPSOptions(options);
    // applyToHTTPSOptions may replace the agent with its own; keep ours so connections are reused.
    options.agent = isHttps ? this.httpsAgent : this.httpAgent;
    const body = params.body === undefined ? undefined : typeof params.body === 'string' ? params.body : JSON.stringify(params.body);
    if (body !== undefined) {
      options.headers = { ...options.headers, 'Content-Type': params.contentType ?? CONTENT_TYPE.json, 'Content-Length': Buffer.byteLength(body) };
    }
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = (isHttps ? request : httpRequest)(options, resolve);
      req.on('error', reject);
      if (params.timeoutMs) {
        req.setTimeout(params.timeoutMs, () => req.destroy(new Error(`${params.method} ${params.path}: no response in ${params.timeoutMs}ms`)));
      }
      req.end(body);
    });
  }

  /** One JSON request; non-2xx answers become a KubeApiError carrying the API server's Status. */
  async request<T>(params: RequestParams): Promise<T> {
    const response = await this.open({ timeoutMs: 30_000, ...params });
    const chunks: Buffer[] = [];
    for await (const chunk of response) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const status = response.statusCode ?? 0;
    if (status < 200 || status >= 300) {
      let body: KubeStatus | undefined;
      try {
        body = JSON.parse(text) as KubeStatus;
      } catch {
        body = undefined;
      }
      throw new KubeApiError(params.method, params.path, status, body, text);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /**
   * Opens a watch and yields its events one by one. Ends when the server closes the stream; throws
   * a KubeApiError if the server refuses the watch (e.g. 410 Gone for a too-old resourceVersion).
   */
  async *watch<T>(path: string, query: Query, signal: AbortSignal): AsyncGenerator<WatchEvent<T>> {
    const response = await this.open({ method: 'GET', path, query: { ...query, watch: 1 }, signal });
    const status = response.statusCode ?? 0;
    if (status !== 200) {
      const chunks: Buffer[] = [];
      for await (const chunk of response) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      let body: KubeStatus | undefined;
      try {
        body = JSON.parse(text) as KubeStatus;
      } catch {
        body = undefined;
      }
      throw new KubeApiError('WATCH', path, status, body, text);
    }
    yield* jsonLines<WatchEvent<T>>(response);
  }

  close(): void {
    this.httpsAgent.destroy();
    this.httpAgent.destroy();
  }
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  /** For ERROR events, a Status. */
  object: T;
}

/**
 * The metrics server on loopback: each answer of the shared authenticator becomes its HTTP status,
 * and the metrics text goes only to an allowed caller. The reviews are answered by a recorder here;
 * against the real API server in test/integration/operator-endpoints.test.ts.
 */
import { Counter, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../log/logger.ts';
import { createCertificateAuthority, issueServingCertificate } from '../pki/certificates.ts';
import { expectAeadOnlyTls, httpsGet } from '../../test/support/tls.ts';
import type { RequestParams } from './kube/client.ts';
import { RequestAuthenticator } from './kube/request-auth.ts';
import { startMetricsServer } from './metrics-server.ts';

let served: Awaited<ReturnType<typeof startMetricsServer>>;
let reviewsFail = false;

/** good-token → allowed; reader-less → authenticated but not allowed; anything else → not authenticated. */
const reviews = {
  request: async <T>(params: RequestParams): Promise<T> => {
    if (reviewsFail) throw Object.assign(new Error('unavailable'), { code: 503 });
    if (params.path.includes('subjectaccessreviews')) {
      const user = (params.body as { spec: { user: string } }).spec.user;
      return { status: { allowed: user === 'reader' } } as T;
    }
    const token = (params.body as { spec: { token: string } }).spec.token;
    const username = token === 'good-token' ? 'reader' : token === 'readerless' ? 'stranger' : undefined;
    return { status: username ? { authenticated: true, user: { username, uid: username, groups: [] } } : { authenticated: false } } as T;
  },
};

beforeAll(async () => {
  const ca = await createCertificateAuthority('metrics-test-ca');
  const serving = await issueServingCertificate(ca, { commonName: 'metrics', ipAddresses: ['127.0.0.1'] });
  const registry = new Registry();
  new Counter({ name: 'test_total', help: 'a counter', registers: [registry] }).inc();
  served = await startMetricsServer({
    host: '127.0.0.1',
    port: 0,
    tls: { cert: serving.certificate, key: serving.privateKey },
    registry,
    auth: new RequestAuthenticator(reviews, { ttlMs: 0 }),
    logger: createLogger({ name: 'test', level: 'silent' }),
  });
});

afterAll(() => {
  served.server.close();
});

describe('the metrics server', () => {
  it('answers 401 without or with a bad token, 403 without the permission, the metrics with it', async () => {
    const none = await httpsGet(served.port, '/metrics');
    expect([none.status, none.headers['www-authenticate']]).toEqual([401, 'Bearer']);
    expect(none.text).not.toContain('test_total');
    expect((await httpsGet(served.port, '/metrics', { token: 'bad' })).status).toBe(401);
    const refused = await httpsGet(served.port, '/metrics', { token: 'readerless' });
    expect([refused.status, refused.text]).toEqual([403, 'stranger may not get /metrics']);
    const allowed = await httpsGet(served.port, '/metrics', { token: 'good-token' });
    expect(allowed.status).toBe(200);
    expect(allowed.text).toContain('test_total 1');
  });

  it('says 503 when the API server cannot be asked, serves nothing but /metrics, and keeps the TLS policy', async () => {
    reviewsFail = true;
    try {
      expect((await httpsGet(served.port, '/metrics', { token: 'good-token' })).status).toBe(503);
    } finally {
      reviewsFail = false;
    }
    expect((await httpsGet(served.port, '/healthz')).status).toBe(404);
    await expectAeadOnlyTls(served.port);
  });
});

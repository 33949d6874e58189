/** The webhook server on loopback with a certificate from our own CA: HTTP handling and TLS, no cluster. */
import { X509Certificate } from 'node:crypto';
import { request } from 'node:https';
import { connect, type ConnectionOptions } from 'node:tls';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueServingCertificate, type PemKeyPair } from '../pki/certificates.ts';
import { MAX_BODY_BYTES, startWebhookServer, type WebhookServer } from './server.ts';
import type { BackupSpace } from '../api/types.ts';
import type { AdmissionLookups } from './validators.ts';
import { expectAeadOnlyTls, opensslHandshake } from '../../test/support/tls.ts';

const lookups: AdmissionLookups = {
  synced: () => true,
  tenant: () => undefined,
  tenantOfNamespace: () => undefined,
  datacenter: () => undefined,
  datacenters: () => [],
  spacesIn: () => [],
  spaces: () => [],
  namespace: () => undefined,
  reservedNamespaces: () => [],
  nodes: () => [],
};

let ca: PemKeyPair;
let webhook: WebhookServer;
const registry = new Registry();
/** What the API server holds now, as the server's readSpaces sees it; the caches above stay empty. */
let liveSpaces: () => Promise<BackupSpace[]> = async () => [];

beforeAll(async () => {
  ca = await createCertificateAuthority('test-ca');
  const serving = await issueServingCertificate(ca, { commonName: 'webhook', ipAddresses: ['127.0.0.1'] });
  webhook = await startWebhookServer({ host: '127.0.0.1', port: 0, tls: { cert: serving.certificate, key: serving.privateKey }, lookups, readSpaces: () => liveSpaces(), logger: pino({ level: 'silent' }), registry });
});

afterAll(async () => {
  await webhook.close();
});

interface Reply { status: number; body: string; headers: Record<string, unknown> }

function call(path: string, options: { method?: string; body?: string | Buffer; headers?: Record<string, string | number> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({
      host: '127.0.0.1',
      port: webhook.port,
      path,
      method: options.method ?? 'POST',
      ca: ca.certificate,
      headers: { 'content-type': 'application/json', ...options.headers },
    }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => { body += chunk.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

function review(request: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
}

const endpointRequest = (namespace: string) => ({
  uid: 'req-1',
  kind: { group: 'tenantbackup.io', version: 'v1alpha1', kind: 'Endpoint' },
  resource: { group: 'tenantbackup.io', version: 'v1alpha1', resource: 'endpoints' },
  namespace: 'tenant-acme',
  operation: 'CREATE',
  object: { metadata: { name: 'laptop', namespace: 'tenant-acme' }, spec: { spaceRef: { name: 's', namespace }, kind: 'Desktop', selection: { include: ['/'] } } },
});

const datacenterDeletion = {
  uid: 'req-2',
  kind: { group: 'tenantbackup.io', version: 'v1alpha1', kind: 'Datacenter' },
  resource: { group: 'tenantbackup.io', version: 'v1alpha1', resource: 'datacenters' },
  name: 'de-fra1',
  operation: 'DELETE',
  oldObject: { metadata: { name: 'de-fra1' }, spec: { country: 'DE' } },
};

function verdictOf(reply: Reply): { allowed: boolean; status?: { code: number; message: string } } {
  return (JSON.parse(reply.body) as { response: { allowed: boolean; status?: { code: number; message: string } } }).response;
}

describe('the webhook server', () => {
  it('answers /healthz', async () => {
    expect(await call('/healthz', { method: 'GET' })).toMatchObject({ status: 200, body: 'ok' });
  });

  it('answers an AdmissionReview with the request uid and the verdict', async () => {
    const allowed = await call('/validate/endpoints', { body: review(endpointRequest('tenant-acme')) });
    expect(allowed.status).toBe(200);
    expect(JSON.parse(allowed.body)).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'req-1', allowed: true } });

    const denied = await call('/validate/endpoints', { body: review(endpointRequest('tenant-other')) });
    const response = (JSON.parse(denied.body) as { response: { uid: string; allowed: boolean; status: { code: number; message: string } } }).response;
    expect(response).toMatchObject({ uid: 'req-1', allowed: false, status: { code: 422 } });
    expect(response.status.message).toContain('spec.spaceRef.namespace: same-namespace');
    expect(await registry.getSingleMetricAsString('tenantbackup_webhook_admission_total')).toContain('result="denied"');
  });

  it.each([
    ['an unknown path', '/validate/secrets', {}, 404, 'no webhook at /validate/secrets'],
    ['a GET', '/validate/endpoints', { method: 'GET' }, 405, 'POSTed'],
    ['another content type', '/validate/endpoints', { headers: { 'content-type': 'text/plain' }, body: '{}' }, 415, 'application/json'],
    ['a body that is not JSON', '/validate/endpoints', { body: 'nope' }, 400, 'not JSON'],
    ['a review without uid', '/validate/endpoints', { body: review({ ...endpointRequest('x'), uid: undefined }) }, 400, 'no uid'],
  ])('refuses %s with a clear error', async (_what, path, options, status, text) => {
    const reply = await call(path, options);
    expect(reply.status).toBe(status);
    expect(reply.body).toContain(text);
  });

  it('judges a datacenter deletion by the spaces the API server holds now, not by the caches', async () => {
    const hosted = { metadata: { name: 'new', namespace: 'tenant-acme' }, spec: { datacenter: 'de-fra1' } } as BackupSpace;
    liveSpaces = async () => [hosted];
    expect(verdictOf(await call('/validate/datacenters', { body: review(datacenterDeletion) }))).toMatchObject({ allowed: false, status: { message: expect.stringContaining('still hosts 1 space(s): tenant-acme/new') } });

    liveSpaces = async () => { throw new Error('connection refused'); };
    expect(verdictOf(await call('/validate/datacenters', { body: review(datacenterDeletion) }))).toMatchObject({ allowed: false, status: { code: 503, message: expect.stringContaining('could not read the backup spaces from the API server') } });

    liveSpaces = async () => [];
    expect(verdictOf(await call('/validate/datacenters', { body: review(datacenterDeletion) }))).toEqual({ uid: 'req-2', allowed: true });
  });

  it('refuses a body past the size limit, declared or streamed, and keeps serving', async () => {
    const declared = await call('/validate/endpoints', { headers: { 'content-length': MAX_BODY_BYTES + 1 }, body: '' });
    expect(declared).toMatchObject({ status: 413, body: `the request body is larger than ${MAX_BODY_BYTES} bytes` });
    // Chunked, so the server only learns the size by counting: it answers 413 (or cuts the upload).
    const streamed = await call('/validate/endpoints', { headers: { 'transfer-encoding': 'chunked' }, body: Buffer.alloc(MAX_BODY_BYTES + 1024, 0x20) })
      .catch((error: NodeJS.ErrnoException) => ({ status: -1, body: error.code ?? '', headers: {} }));
    if (streamed.status === -1) expect(['EPIPE', 'ECONNRESET']).toContain(streamed.body);
    else expect(streamed.status).toBe(413);
    expect(await call('/healthz', { method: 'GET' })).toMatchObject({ status: 200 });
  });

  it('never crashes on hostile reviews', async () => {
    for (const body of [review({ ...endpointRequest('x'), object: { metadata: null, spec: 'x' } }), review({ ...endpointRequest('x'), object: { metadata: {}, spec: { spaceRef: null } } }), '"x"', 'null']) {
      const reply = await call('/validate/endpoints', { body });
      expect([200, 400]).toContain(reply.status);
    }
    expect(await call('/healthz', { method: 'GET' })).toMatchObject({ status: 200 });
  });
});

function handshake(options: ConnectionOptions): Promise<{ protocol?: string | null; fingerprint?: string; error?: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: webhook.port, ca: ca.certificate, ...options }, () => {
      const peer = socket.getPeerX509Certificate();
      resolve({ protocol: socket.getProtocol(), fingerprint: peer?.fingerprint256 });
      socket.end();
    });
    socket.on('error', (error: NodeJS.ErrnoException) => resolve({ error: error.code ?? error.message }));
  });
}

describe('the webhook TLS', () => {
  it('refuses TLS 1.1 and older (S2), accepts TLS 1.2 and 1.3', async () => {
    // SECLEVEL=0 lets the client offer TLS 1.1 at all, so the refusal is the server's.
    expect((await handshake({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })).error).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    expect((await handshake({ maxVersion: 'TLSv1.2' })).protocol).toBe('TLSv1.2');
    expect((await handshake({ minVersion: 'TLSv1.3' })).protocol).toBe('TLSv1.3');
  });

  it('offers only ECDHE with AEAD suites on TLS 1.2, and TLS 1.3 as is (openssl s_client)', async () => {
    await expectAeadOnlyTls(webhook.port);
  });

  it('serves a renewed certificate to new connections without a restart, under the same policy', async () => {
    const renewed = await issueServingCertificate(ca, { commonName: 'webhook', ipAddresses: ['127.0.0.1'] });
    webhook.setCertificate({ cert: renewed.certificate, key: renewed.privateKey });
    expect((await handshake({})).fingerprint).toBe(new X509Certificate(renewed.certificate).fingerprint256);
    expect((await handshake({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' })).error).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    expect((await opensslHandshake(webhook.port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA'])).ok).toBe(false);
  });
});

/** The operator's probe and metrics server on loopback: what it answers, and its TLS policy. */
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCertificateAuthority, issueServingCertificate } from '../pki/certificates.ts';
import { expectAeadOnlyTls } from '../../test/support/tls.ts';
import { startProbeServer } from './probe-server.ts';

let served: Awaited<ReturnType<typeof startProbeServer>>;

beforeAll(async () => {
  const ca = await createCertificateAuthority('probe-test-ca');
  const serving = await issueServingCertificate(ca, { commonName: 'probes', ipAddresses: ['127.0.0.1'] });
  served = await startProbeServer({
    host: '127.0.0.1',
    port: 0,
    tls: { cert: serving.certificate, key: serving.privateKey },
    registry: new Registry(),
    isAlive: () => true,
    isReady: () => true,
    serveMetrics: true,
    serveProbes: true,
  });
});

afterAll(() => {
  served.server.close();
});

describe('the probe and metrics server TLS', () => {
  it('offers only ECDHE with AEAD suites on TLS 1.2, and TLS 1.3 as is (openssl s_client)', async () => {
    expect(served.port).toBeGreaterThan(0);
    await expectAeadOnlyTls(served.port);
  });
});

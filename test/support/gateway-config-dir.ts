/**
 * A gateway configuration directory for in-process Gateway tests: access.json as given, a serving
 * certificate for 127.0.0.1 from a fresh CA (src/pki, as the operator issues them), ca.crt, and
 * data.key under provider custody. Returns the CA certificate, to verify the gateway with.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import type { GatewayAccessConfig } from '../../src/gateway/access-config.ts';
import { createCertificateAuthority, issueServingCertificate } from '../../src/pki/certificates.ts';

export async function writeGatewayConfigDir(configDir: string, access: GatewayAccessConfig, dataKey?: Buffer): Promise<string> {
  await mkdir(configDir, { recursive: true });
  const authority = await createCertificateAuthority('gateway-test-ca');
  const serving = await issueServingCertificate(authority, { commonName: 'gateway', ipAddresses: ['127.0.0.1'] });
  await writeFile(join(configDir, 'access.json'), JSON.stringify(access));
  await writeFile(join(configDir, 'tls.crt'), serving.certificate);
  await writeFile(join(configDir, 'tls.key'), serving.privateKey);
  await writeFile(join(configDir, 'ca.crt'), authority.certificate);
  if (dataKey) await writeFile(join(configDir, 'data.key'), dataKey.toString('base64'));
  return authority.certificate;
}

/** One JSON request to an in-process gateway on 127.0.0.1, verified against `ca`. */
export function gatewayRequest(port: number, ca: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; text: string; retryAfter?: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', ca, headers: { 'Content-Type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text, retryAfter: res.headers['retry-after'] as string | undefined }));
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

import { describe, expect, it } from 'vitest';
import { endpoint, space } from '../../../test/support/objects.ts';
import { openEnrolment } from '../../crypto/index.ts';
import { credentialsSecret, enrolmentBinding, enrolmentOf, issueCredentials, repositoryPathOf } from './desired.ts';

const issued = { credential: 'c', activationCode: 'a', credentialHash: 'h', enrolment: { kdf: { name: 'scrypt' as const, cost: 1024, blockSize: 8, parallelization: 1, salt: 's' }, wrappedCredential: 'w' }, activationExpiresAt: '2026-12-09T00:00:00.000Z' };

describe('an endpoint\'s repository path', () => {
  it('is keyed by the endpoint\'s uid, so an Endpoint made again with the same name never opens the old one\'s backups', () => {
    const first = credentialsSecret({ ...endpoint('laptop', 'tenant-acme', 'main'), metadata: { name: 'laptop', namespace: 'tenant-acme', uid: '1111aaaa-0000' } }, space('main', 'tenant-acme'), 'acme', issued, 'CA PEM');
    const again = credentialsSecret({ ...endpoint('laptop', 'tenant-acme', 'main'), metadata: { name: 'laptop', namespace: 'tenant-acme', uid: '2222bbbb-0000' } }, space('main', 'tenant-acme'), 'acme', issued, 'CA PEM');
    const pathOf = (secret: typeof first) => (secret.stringData as Record<string, string>).repositoryPath;
    expect(pathOf(first)).toBe('endpoints/laptop.1111aaaa0000');
    expect(pathOf(again)).not.toBe(pathOf(first));
  });

  it('is read from the credentials Secret, and is the name-based path for endpoints issued before', () => {
    expect(repositoryPathOf('laptop', { data: { repositoryPath: Buffer.from('endpoints/laptop.1111').toString('base64') } })).toBe('endpoints/laptop.1111');
    expect(repositoryPathOf('laptop', { data: {} })).toBe('endpoints/laptop');
    expect(repositoryPathOf('laptop', undefined)).toBe('endpoints/laptop');
  });
});

describe('an endpoint\'s enrolment', () => {
  const laptop = { ...endpoint('laptop', 'tenant-acme', 'main'), metadata: { name: 'laptop', namespace: 'tenant-acme', uid: '1111aaaa-0000' } };
  const asData = (stringData: Record<string, string>) => ({ data: Object.fromEntries(Object.entries(stringData).map(([k, v]) => [k, Buffer.from(v).toString('base64')])) });

  it('seals the credential under the code, expires after a week, and puts the CA in the Secret', async () => {
    const now = new Date('2026-12-02T10:00:00Z');
    const issued = await issueCredentials(laptop, now);
    expect(issued.activationExpiresAt).toBe('2026-12-09T10:00:00.000Z');
    expect(await openEnrolment(issued.enrolment, issued.activationCode, enrolmentBinding('tenant-acme', 'laptop'))).toBe(issued.credential);
    const secret = credentialsSecret(laptop, space('main', 'tenant-acme'), 'acme', issued, 'CA PEM');
    const data = secret.stringData as Record<string, string>;
    expect(data['ca.crt']).toBe('CA PEM');
    expect(data.enrolment).not.toContain(issued.credential);
    expect(enrolmentOf(asData(data))).toEqual({ seal: issued.enrolment, expiresAt: issued.activationExpiresAt, repositoryUrl: data.repository });
  });

  it('is offered only while the activation code is in the Secret and the seal is well-formed', async () => {
    const issued = await issueCredentials(laptop, new Date());
    const data = credentialsSecret(laptop, space('main', 'tenant-acme'), 'acme', issued, 'CA PEM').stringData as Record<string, string>;
    const { activationCode: _dropped, ...used } = data;
    expect(enrolmentOf(asData(used))).toBeUndefined();
    expect(enrolmentOf(asData({ ...data, enrolment: '{"kdf":{}}' }))).toBeUndefined();
    expect(enrolmentOf(asData({ ...data, activationExpiresAt: 'soon' }))).toBeUndefined();
  });
});

import { describe, expect, it } from 'vitest';
import { endpoint, space } from '../../../test/support/objects.ts';
import { credentialsSecret, repositoryPathOf } from './desired.ts';

const issued = { credential: 'c', activationCode: 'a', credentialHash: 'h' };

describe('an endpoint\'s repository path', () => {
  it('is keyed by the endpoint\'s uid, so an Endpoint made again with the same name never opens the old one\'s backups', () => {
    const first = credentialsSecret({ ...endpoint('laptop', 'tenant-acme', 'main'), metadata: { name: 'laptop', namespace: 'tenant-acme', uid: '1111aaaa-0000' } }, space('main', 'tenant-acme'), 'acme', issued);
    const again = credentialsSecret({ ...endpoint('laptop', 'tenant-acme', 'main'), metadata: { name: 'laptop', namespace: 'tenant-acme', uid: '2222bbbb-0000' } }, space('main', 'tenant-acme'), 'acme', issued);
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

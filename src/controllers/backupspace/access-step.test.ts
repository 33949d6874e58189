import { describe, expect, it } from 'vitest';
import { endpoint, space, tenant } from '../../../test/support/objects.ts';
import { CREDENTIAL_HASH_ANNOTATION, PASSWORD_HASH_ANNOTATION, spaceObjectNames } from '../labels.ts';
import { accessInputs } from './access-step.ts';
import type { Secret, SpaceKeys } from './keys.ts';

const keys: SpaceKeys = { custody: 'provider', keyId: 'k1-0000000000000000', dataKey: Buffer.alloc(32), volumePassphrase: 'p' };
const annotated = (name: string, annotations: Record<string, string>, data: Record<string, string> = {}): Secret => ({ metadata: { name, namespace: 'tenant-acme', annotations }, data });

describe('the access-configuration step', () => {
  it('lets in only devices with issued credentials and people with an enrolment, by their hashes', () => {
    const acme = tenant('acme', { users: [{ name: 'giulia', email: 'giulia@example.com', role: 'admin' }, { name: 'marco', email: 'marco@example.com' }] });
    const secrets = new Map<string, Secret>([
      ['endpoint-laptop-credentials', annotated('endpoint-laptop-credentials', { [CREDENTIAL_HASH_ANNOTATION]: 'hash-laptop' })],
      ['user-giulia-2fa', annotated('user-giulia-2fa', { [PASSWORD_HASH_ANNOTATION]: 'hash-giulia' }, { totpSecret: Buffer.from('TOTP').toString('base64') })],
      ['main-maintenance', annotated('main-maintenance', { [CREDENTIAL_HASH_ANNOTATION]: 'hash-maintenance' })],
    ]);
    const facts = { space: space('main', 'tenant-acme'), tenant: acme, endpoints: [endpoint('laptop', 'tenant-acme', 'main'), endpoint('phone', 'tenant-acme', 'main')], names: spaceObjectNames('main') };
    const inputs = accessInputs(facts, keys, (name) => secrets.get(name), 'hash-report', new Date(0));
    expect(inputs.endpoints.map((e) => [e.endpoint.metadata.name, e.credentialHash])).toEqual([['laptop', 'hash-laptop']]);
    expect(inputs.users).toEqual([{ name: 'giulia', email: 'giulia@example.com', role: 'admin', passwordHash: 'hash-giulia', totpSecret: 'TOTP' }]);
    expect(inputs).toMatchObject({ maintenanceHash: 'hash-maintenance', reportTokenHash: 'hash-report', keys });
  });
});

/** The key service's own rules: which path names which space, and who alone may have its key. */
import { describe, expect, it } from 'vitest';
import { gatewayIdentity, parseKeyPath } from './key-service.ts';

describe('the key service', () => {
  it('reads the space from the path, refusing anything that is not a DNS label', () => {
    expect(parseKeyPath('/v1/spaces/tenant-acme/main/key')).toEqual({ namespace: 'tenant-acme', name: 'main' });
    expect(parseKeyPath('/v1/spaces/tenant-acme/main')).toBeUndefined();
    expect(parseKeyPath('/v1/spaces/tenant-acme/../key')).toBeUndefined();
    expect(parseKeyPath('/v1/spaces/Tenant/main/key')).toBeUndefined();
    expect(parseKeyPath('/v1/spaces/tenant-acme/main/key/extra')).toBeUndefined();
    expect(parseKeyPath(`/v1/spaces/${'a'.repeat(64)}/main/key`)).toBeUndefined();
  });

  it('gives a space\'s key to its gateway ServiceAccount in its namespace only', () => {
    expect(gatewayIdentity('tenant-acme', 'main')).toBe('system:serviceaccount:tenant-acme:main-gateway');
    // Another space's gateway, the same name in another namespace: other identities.
    expect(gatewayIdentity('tenant-acme', 'spare')).not.toBe(gatewayIdentity('tenant-acme', 'main'));
    expect(gatewayIdentity('tenant-other', 'main')).not.toBe(gatewayIdentity('tenant-acme', 'main'));
  });
});

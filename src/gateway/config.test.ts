import { beforeAll, describe, expect, it } from 'vitest';
import { TEST_SCRYPT_PARAMS, generateDataKey, hashSecret, keyIdOf } from '../crypto/index.ts';
import type { GatewayAccessConfig } from './access-config.ts';
import { ConfigError, decodeKeyFile, parseAccessConfig } from './config.ts';

let hash: string;

beforeAll(async () => {
  hash = await hashSecret('secret', TEST_SCRYPT_PARAMS);
});

function valid(): GatewayAccessConfig {
  return {
    version: 1,
    space: { namespace: 'ns', name: 'space', uid: 'uid-1', quotaBytes: 1000, appendOnly: false, encryptAtRest: true, keyCustody: { mode: 'provider', keyId: keyIdOf(generateDataKey()) } },
    endpoints: [
      { name: 'laptop-01', credentialHash: hash, repository: 'endpoints/laptop-01', enabled: true },
      { name: 'server.02', credentialHash: hash, repository: 'endpoints/server-02', enabled: false },
    ],
    maintenance: { username: 'maintenance', credentialHash: hash },
    humans: { policy: 'two-factor', users: [{ name: 'alice', email: 'a@example.com', role: 'admin', passwordHash: hash, totpSecret: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP' }] },
    reportTokenHash: hash,
  };
}

function parse(config: unknown): ReturnType<typeof parseAccessConfig> {
  return parseAccessConfig(JSON.stringify(config));
}

describe('parseAccessConfig', () => {
  it('accepts a valid document and indexes endpoints and users', () => {
    const parsed = parse(valid());
    expect([...parsed.endpoints.keys()]).toEqual(['laptop-01', 'server.02']);
    expect(parsed.users.get('alice')?.role).toBe('admin');
    expect(parsed.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(parsed.warnings).toEqual([]);
  });

  it('accepts customer custody with no key yet (the password is set at the gateway), but not a key without its record', () => {
    const awaiting = valid();
    awaiting.space.keyCustody = { mode: 'customer' };
    expect(parse(awaiting).access.space.keyCustody).toEqual({ mode: 'customer' });
    const half = valid();
    half.space.keyCustody = { mode: 'customer', keyId: keyIdOf(generateDataKey()) };
    expect(() => parse(half)).toThrow(ConfigError);
    const providerWithout = valid();
    providerWithout.space.keyCustody = { mode: 'provider' } as unknown as GatewayAccessConfig['space']['keyCustody'];
    expect(() => parse(providerWithout)).toThrow(/keyId/);
  });

  it('refuses an endpoint enrolment whose seal is malformed, naming the endpoint and field', () => {
    const config = valid();
    config.endpoints[0] = { ...config.endpoints[0] as GatewayAccessConfig['endpoints'][number], enrolment: { seal: { kdf: { name: 'scrypt', cost: 1024, blockSize: 8, parallelization: 1, salt: 'AAAA' }, wrappedCredential: 'v1.x.y' }, expiresAt: '2026-12-09T00:00:00Z', repositoryUrl: 'rest:https://h:8443/laptop-01/' } };
    expect(() => parse(config)).toThrow(/endpoints\[0\] \(laptop-01\): enrolment\.seal: enrolment seal: kdf\.salt/);
  });

  it('accepts fields it does not know (the contract may grow)', () => {
    expect(() => parse({ ...valid(), futureField: { x: 1 } })).not.toThrow();
  });

  it.each([
    ['not JSON', '{', /not valid JSON/],
    ['a wrong version', JSON.stringify({ ...valid(), version: 2 }), /schema/],
    ['a missing space', JSON.stringify({ ...valid(), space: undefined }), /schema/],
    ['a negative quota', JSON.stringify({ ...valid(), space: { ...valid().space, quotaBytes: -1 } }), /schema/],
  ])('refuses %s', (_what, text, message) => {
    expect(() => parseAccessConfig(text)).toThrow(message);
  });

  it('refuses repositories that escape, nest or repeat, and names that cannot be routed', () => {
    const config = valid();
    config.endpoints.push({ name: 'v1', credentialHash: hash, repository: 'endpoints/laptop-01/inner', enabled: true });
    config.endpoints.push({ name: 'evil', credentialHash: hash, repository: '../outside', enabled: true });
    config.endpoints.push({ name: 'laptop-01', credentialHash: hash, repository: 'x', enabled: true });
    const error = (() => {
      try {
        parse(config);
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect(error?.message).toMatch(/endpoints\[2\] \(v1\): name must be a DNS-1123 name/);
    expect(error?.message).toMatch(/overlaps the repository of endpoint laptop-01/);
    expect(error?.message).toMatch(/endpoints\[3\] \(evil\): repository must not contain/);
    expect(error?.message).toMatch(/duplicate endpoint name/);
  });

  it('refuses malformed hashes without echoing them', () => {
    const config = valid();
    config.endpoints[0]!.credentialHash = 'plaintext-credential';
    expect(() => parse(config)).toThrow(/credentialHash is not a valid scrypt hash/);
    try {
      parse(config);
    } catch (error) {
      expect(String(error)).not.toContain('plaintext-credential');
    }
  });

  it('refuses a maintenance user named like an endpoint, and a broken customer key record', () => {
    expect(() => parse({ ...valid(), maintenance: { username: 'laptop-01', credentialHash: hash } })).toThrow(/maintenance.username/);
    const customer = valid();
    customer.space.keyCustody = { mode: 'customer', keyId: 'k1-0000000000000000', record: { kdf: { name: 'scrypt', cost: 3, blockSize: 8, parallelization: 1, salt: '' }, verifier: '', wrappedKey: '' } };
    expect(() => parse(customer)).toThrow(/keyCustody.record/);
  });

  it('warns about configurations that work but lock people out', () => {
    const config = valid();
    config.space.appendOnly = true;
    delete config.maintenance;
    delete config.humans.users[0]!.totpSecret;
    const { warnings } = parse(config);
    expect(warnings.join('\n')).toMatch(/nobody can forget or prune/);
    expect(warnings.join('\n')).toMatch(/cannot sign in/);
  });
});

describe('decodeKeyFile', () => {
  it('accepts base64 of 32 bytes with a trailing newline, and nothing else', () => {
    const key = generateDataKey();
    expect(decodeKeyFile(`${key.toString('base64')}\n`, 'data.key').equals(key)).toBe(true);
    expect(() => decodeKeyFile('c2hvcnQ=', 'data.key')).toThrow(/exactly 32 bytes/);
  });
});

import { describe, expect, it } from 'vitest';
import { parseImageReference } from './image-reference.ts';

const DIGEST = `sha256:${'ab12'.repeat(16)}`;

describe('parseImageReference', () => {
  it('reads tags, digests, registries with ports', () => {
    expect(parseImageReference('ghcr.io/tenant-backup/tenant-backup-operator:0.1.0', '--gateway-image')).toEqual({ name: 'ghcr.io/tenant-backup/tenant-backup-operator', tag: '0.1.0' });
    expect(parseImageReference(`ghcr.io/tenant-backup/tenant-backup-operator@${DIGEST}`, '--gateway-image')).toEqual({ name: 'ghcr.io/tenant-backup/tenant-backup-operator', digest: DIGEST });
    expect(parseImageReference(`localhost:5000/tbo:1.2@${DIGEST}`, '--gateway-image')).toEqual({ name: 'localhost:5000/tbo', tag: '1.2', digest: DIGEST });
    expect(parseImageReference('registry.invalid/tenant-backup-operator:test', '--gateway-image').tag).toBe('test');
  });

  it('refuses bad digests, names and tags, naming the flag and the rule', () => {
    expect(() => parseImageReference('tbo@sha256:abc', '--gateway-image')).toThrow("--gateway-image: the digest of 'tbo@sha256:abc' must be sha256: followed by 64 lower-case hex digits");
    expect(() => parseImageReference(`tbo@sha512:${'a'.repeat(64)}`, '--gateway-image')).toThrow(/must be sha256:/);
    expect(() => parseImageReference(`tbo@sha256:${'A'.repeat(64)}`, '--gateway-image')).toThrow(/lower-case hex/);
    expect(() => parseImageReference('Ghcr.io/Tbo:1', '--gateway-image')).toThrow(/is not an image reference/);
    expect(() => parseImageReference('tbo:-bad', '--gateway-image')).toThrow(/the tag of 'tbo:-bad'/);
    expect(() => parseImageReference('ghcr.io/tbo', '--export-image')).toThrow("--export-image: 'ghcr.io/tbo' names no tag or digest");
    expect(() => parseImageReference('', '--gateway-image')).toThrow(/is not an image reference/);
  });
});

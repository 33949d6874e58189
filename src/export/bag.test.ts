import { describe, expect, it } from 'vitest';
import { bagInfo, humanSize, manifestJson, manifestText, parseBagInfo, parseManifest, payloadOxum, readme } from './bag.ts';
import { archiveName, bagNameOfArchive, checkExportIdentity, exportIdProblem, parsePayloadPath } from './names.ts';
import { checkBag, newObserved, parseChecksumFile } from './verify.ts';
import { targetOf } from './command.ts';
import { createHash } from 'node:crypto';

const identity = { organization: 'Provider S.p.A.', tenant: 'acme', space: 'space-1', spaceUid: 'uid-1', exportId: 'term-1', createdAt: new Date('2026-12-01T10:00:00Z') };
const ID = 'ab'.repeat(32);
const sha = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('bag-info.txt', () => {
  it('carries the organisation, ids, date, Payload-Oxum and Bag-Size, and parses back', () => {
    const text = bagInfo(identity, { bytes: 1_500_000, files: 7 });
    const fields = parseBagInfo(text);
    expect(fields.get('Source-Organization')).toEqual(['Provider S.p.A.']);
    expect(fields.get('External-Identifier')).toEqual(['acme/space-1']);
    expect(fields.get('Bagging-Date')).toEqual(['2026-12-01']);
    expect(fields.get('Payload-Oxum')).toEqual(['1500000.7']);
    expect(fields.get('Bag-Size')).toEqual(['1.5 MB']);
    expect(fields.get('Export-Id')).toEqual(['term-1']);
    expect(fields.get('Space-UID')).toEqual(['uid-1']);
    expect(bagInfo(identity, { bytes: 1_500_000, files: 7 })).toBe(text);
  });

  it('joins continuation lines and refuses a line without a label', () => {
    expect(parseBagInfo('A: one\n  two\nB: x\n').get('A')).toEqual(['one two']);
    expect(() => parseBagInfo('no label here\n')).toThrow(/label: value/);
  });

  it('has size and oxum helpers that follow RFC 8493', () => {
    expect(payloadOxum(279164409832, 1198)).toBe('279164409832.1198');
    expect(humanSize(999)).toBe('999 B');
    expect(humanSize(260_000_000_000)).toBe('260.0 GB');
  });
});

describe('manifests', () => {
  it('are sorted "<sha256>  <path>" lines, as sha256sum -c reads them, whatever the input order', () => {
    const text = manifestText([
      { path: 'data/b', sha256: 'b'.repeat(64) },
      { path: 'data/a', sha256: 'a'.repeat(64) },
    ]);
    expect(text).toBe(`${'a'.repeat(64)}  data/a\n${'b'.repeat(64)}  data/b\n`);
    expect(parseManifest(text, 'm')).toEqual(new Map([['data/a', 'a'.repeat(64)], ['data/b', 'b'.repeat(64)]]));
  });

  it('name the bad line or the duplicate', () => {
    expect(() => parseManifest(`${'a'.repeat(64)}  x\nnot a line\n`, 'manifest-sha256.txt')).toThrow('manifest-sha256.txt line 2');
    expect(() => parseManifest(`${'a'.repeat(64)}  x\n${'b'.repeat(64)}  x\n`, 'm')).toThrow('lists x twice');
  });
});

describe('names', () => {
  it('accept DNS-style export ids only', () => {
    expect(exportIdProblem('term-1a2b')).toBeNull();
    for (const bad of ['', 'Term', 'a_b', '-a', 'a-', 'x'.repeat(64), 'a/b']) expect(exportIdProblem(bad)).not.toBeNull();
  });

  it('refuse a bad identity naming every field', () => {
    expect(() => checkExportIdentity({ ...identity, exportId: 'A_B', tenant: 'Acme', organization: 'x\ny' })).toThrow(/exportId .*; tenant .*; organization/);
    expect(() => checkExportIdentity(identity)).not.toThrow();
  });

  it('name the archive after tenant, space and export id, and split it back', () => {
    const archive = archiveName('acme', 'space-1', 'term-1');
    expect(archive).toBe('acme_space-1_term-1.tar');
    expect(bagNameOfArchive(archive)).toBe('acme_space-1_term-1');
    expect(bagNameOfArchive('other.tar')).toBeNull();
  });

  it('find the repository and at-rest object name of a payload path', () => {
    expect(parsePayloadPath('endpoints/laptop/config')).toEqual({ repository: 'endpoints/laptop', objectName: 'config' });
    expect(parsePayloadPath(`endpoints/laptop/data/ab/${ID}`)).toEqual({ repository: 'endpoints/laptop', objectName: `data/${ID}` });
    expect(parsePayloadPath(`r/snapshots/${ID}`)).toEqual({ repository: 'r', objectName: `snapshots/${ID}` });
    expect(parsePayloadPath(`r/data/cd/${ID}`)).toBeNull(); // wrong fan-out directory
    expect(parsePayloadPath(`r/other/${ID}`)).toBeNull();
  });
});

describe('the verifier rules', () => {
  function goodBag(): ReturnType<typeof newObserved> {
    const observed = newObserved();
    const manifest = manifestText([{ path: 'data/r/config', sha256: sha('c') }]);
    observed.payload.set('data/r/config', { sha256: sha('c'), size: 1 });
    const tags: Record<string, string> = {
      'bagit.txt': 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n',
      'bag-info.txt': bagInfo(identity, { bytes: 1, files: 1 }),
      'manifest-sha256.txt': manifest,
      'manifest.json': manifestJson({ ...identity, created: identity.createdAt.toISOString(), custody: 'provider', endpoints: [], files: 1, bytes: 1, payloadDigest: sha(manifest) }),
    };
    for (const [path, text] of Object.entries(tags)) observed.tags.set(path, { sha256: sha(text), text });
    const tagManifest = manifestText(Object.entries(tags).map(([path, text]) => ({ path, sha256: sha(text) })));
    observed.tags.set('tagmanifest-sha256.txt', { sha256: sha(tagManifest), text: tagManifest });
    return observed;
  }

  it('accept a consistent bag', () => {
    const observed = goodBag();
    expect(checkBag(observed)).toEqual({ files: 1, bytes: 1 });
    expect(observed.problems).toEqual([]);
  });

  it('name a changed, missing or extra payload file', () => {
    const changed = goodBag();
    changed.payload.set('data/r/config', { sha256: sha('x'), size: 1 });
    checkBag(changed);
    expect(changed.problems.join('\n')).toContain('data/r/config: sha256');

    const extra = goodBag();
    extra.payload.set('data/r/keys/k', { sha256: sha('k'), size: 1 });
    checkBag(extra);
    expect(extra.problems.join('\n')).toContain('data/r/keys/k: in the archive but not listed');
    expect(extra.problems.join('\n')).toContain('Payload-Oxum 1.1 but the payload is 2.2');

    const missing = goodBag();
    missing.payload.clear();
    checkBag(missing);
    expect(missing.problems.join('\n')).toContain('listed in manifest-sha256.txt but missing');
  });

  it('name a changed tag file and a missing one', () => {
    const observed = goodBag();
    observed.tags.set('bag-info.txt', { sha256: sha('x'), text: 'Payload-Oxum: 1.1\n' });
    observed.tags.delete('manifest.json');
    checkBag(observed);
    expect(observed.problems).toContain('bag-info.txt: sha256 differs from tagmanifest-sha256.txt');
    expect(observed.problems).toContain('manifest.json: missing');
  });

  it('read the .sha256 beside the archive', () => {
    expect(parseChecksumFile(`${'a'.repeat(64)}  x.tar\n`, 'x.tar')).toEqual({ sha256: 'a'.repeat(64) });
    expect(parseChecksumFile(`${'a'.repeat(64)}  y.tar\n`, 'x.tar')).toEqual({ problem: 'x.tar.sha256: names y.tar, not x.tar' });
  });
});

describe('README.txt', () => {
  it('says how to restore with restic, and how to open a sealed export first', () => {
    expect(readme(identity, 'provider', ['endpoints/laptop'], 'acme_space-1_term-1.tar')).toContain('restic -r acme_space-1_term-1/data/endpoints/laptop restore latest');
    expect(readme(identity, 'customer-sealed', ['endpoints/laptop'], 'acme_space-1_term-1.tar')).toContain('tenant-backup open-export acme_space-1_term-1.tar --password-file');
  });
});

describe('export CLI targets', () => {
  it('name the flag that is wrong', () => {
    expect(targetOf({ targetDir: '/x' })).toEqual({ kind: 'directory', path: '/x' });
    expect(() => targetOf({})).toThrow(/--target-dir <dir>, --s3-bucket <bucket>/);
    expect(() => targetOf({ targetDir: '/x', s3Bucket: 'b' })).toThrow(/not --target-dir and --s3-bucket/);
    expect(() => targetOf({ httpTarget: 'https://r:8443/', s3Bucket: 'b' })).toThrow(/not --s3-bucket and --http-target/);
    expect(() => targetOf({ httpTarget: 'https://r:8443/' })).toThrow(/--http-token-file/);
    expect(() => targetOf({ httpTokenFile: '/t', targetDir: '/x' })).toThrow(/go with --http-target/);
    expect(targetOf({ httpTarget: 'https://r:8443/', httpTokenFile: '/t', httpCaFile: '/ca' })).toEqual({ kind: 'http', url: 'https://r:8443/', tokenFile: '/t', caFile: '/ca' });
    expect(() => targetOf({ s3Bucket: 'b', s3PartSize: '1000' })).toThrow(/--s3-part-size/);
    expect(targetOf({ s3Bucket: 'b', s3Endpoint: 'https://s3:9000', s3Prefix: 'p' })).toMatchObject({ kind: 's3', bucket: 'b', prefix: 'p', endpoint: 'https://s3:9000', forcePathStyle: true, region: 'us-east-1' });
  });
});

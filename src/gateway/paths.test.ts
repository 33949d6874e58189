import { describe, expect, it } from 'vitest';
import {
  isTemporaryFileName,
  parseDataRoute,
  parseRequestTarget,
  repositoriesOverlap,
  repositoryDirectory,
  repositoryPathProblem,
  temporaryFileName,
} from './paths.ts';

const ID = 'ab'.repeat(32);

describe('parseRequestTarget', () => {
  it('splits path and query', () => {
    const target = parseRequestTarget('/laptop/?create=true');
    expect(target?.path).toBe('/laptop/');
    expect(target?.query.get('create')).toBe('true');
  });

  it.each([
    '/laptop/%2e%2e/other/config',
    '/laptop%2Fconfig',
    '/laptop/../other/config',
    '/laptop/./config',
    '/laptop//config',
    '/laptop\\..\\other',
    '/laptop/\u0000config',
    'laptop/config',
    'http://evil/laptop/config',
  ])('refuses %j', (url) => {
    expect(parseRequestTarget(url)).toBeNull();
  });
});

describe('parseDataRoute', () => {
  it('maps the restic REST layout', () => {
    expect(parseDataRoute('/laptop')).toEqual({ kind: 'repository', endpoint: 'laptop' });
    expect(parseDataRoute('/laptop/')).toEqual({ kind: 'repository', endpoint: 'laptop' });
    expect(parseDataRoute('/laptop/config')).toEqual({ kind: 'file', endpoint: 'laptop', file: { type: 'config' } });
    expect(parseDataRoute('/laptop/data/')).toEqual({ kind: 'list', endpoint: 'laptop', type: 'data' });
    expect(parseDataRoute(`/laptop/snapshots/${ID}`)).toEqual({ kind: 'file', endpoint: 'laptop', file: { type: 'snapshots', id: ID } });
  });

  it.each([
    '/laptop/data',
    '/laptop/other/',
    `/laptop/data/${ID.toUpperCase()}`,
    `/laptop/data/${ID}/extra`,
    '/laptop/data/abc',
    '/laptop/config/x',
    '/v1/',
    '/-bad/config',
    '/../config',
  ])('does not route %j', (path) => {
    expect(parseDataRoute(path)).toBeNull();
  });
});

describe('repository paths', () => {
  it.each(['endpoints/laptop-01', 'a', 'a.b/c_d'])('accepts %j', (path) => {
    expect(repositoryPathProblem(path)).toBeNull();
  });

  it.each(['', '/abs', 'a/../b', './a', 'a//b', 'a/', 'a\\b', 'a/\u0000'])('refuses %j', (path) => {
    expect(repositoryPathProblem(path)).not.toBeNull();
  });

  it('keeps repositories inside the data directory', () => {
    expect(repositoryDirectory('/srv/data', 'endpoints/a')).toBe('/srv/data/endpoints/a');
    expect(() => repositoryDirectory('/srv/data', '../etc')).toThrow();
  });

  it('detects nested or equal repositories', () => {
    expect(repositoriesOverlap('a', 'a')).toBe(true);
    expect(repositoriesOverlap('a', 'a/b')).toBe(true);
    expect(repositoriesOverlap('a/b', 'a')).toBe(true);
    expect(repositoriesOverlap('a', 'ab')).toBe(false);
  });
});

describe('temporary files', () => {
  it('are recognised, and object names are not', () => {
    expect(isTemporaryFileName(temporaryFileName({ type: 'data', id: ID }, '0123456789abcdef'))).toBe(true);
    expect(isTemporaryFileName(temporaryFileName({ type: 'config' }, '0123456789abcdef'))).toBe(true);
    expect(isTemporaryFileName(ID)).toBe(false);
    expect(isTemporaryFileName('config')).toBe(false);
  });
});

import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BLOCK, endOfArchive, entryHeader, padding, smallEntry, splitUstarPath } from './tar.ts';

const MTIME = Date.UTC(2026, 11, 1, 10) / 1000;

function field(header: Buffer, offset: number, width: number): string {
  return header.subarray(offset, offset + width).toString('ascii').replace(/\0+$/, '');
}

describe('tar headers', () => {
  it('are a pure function of the entry: uid/gid 0, no names, fixed modes, the given mtime', () => {
    const a = entryHeader({ path: 'bag/data/x', type: 'file', size: 1234, mtime: MTIME });
    const b = entryHeader({ path: 'bag/data/x', type: 'file', size: 1234, mtime: MTIME });
    expect(a.equals(b)).toBe(true);
    expect(a.length).toBe(BLOCK);
    expect(field(a, 0, 100)).toBe('bag/data/x');
    expect(field(a, 100, 8)).toBe('0000644');
    expect(field(a, 108, 8)).toBe('0000000');
    expect(field(a, 116, 8)).toBe('0000000');
    expect(parseInt(field(a, 124, 12), 8)).toBe(1234);
    expect(parseInt(field(a, 136, 12), 8)).toBe(MTIME);
    expect(field(a, 257, 6)).toBe('ustar');
    expect(field(a, 265, 32)).toBe('');
    // The checksum is the sum of the header with the checksum field read as spaces.
    const copy = Buffer.from(a);
    copy.fill(0x20, 148, 156);
    expect(parseInt(field(a, 148, 7), 8)).toBe(copy.reduce((sum, byte) => sum + byte, 0));
  });

  it('marks directories with a trailing slash, type 5 and mode 0755', () => {
    const header = entryHeader({ path: 'bag/data', type: 'directory', size: 99, mtime: MTIME });
    expect(field(header, 0, 100)).toBe('bag/data/');
    expect(field(header, 156, 1)).toBe('5');
    expect(field(header, 100, 8)).toBe('0000755');
    expect(parseInt(field(header, 124, 12), 8)).toBe(0);
  });

  it('splits long paths into ustar prefix and name, and uses a pax header only when no split fits', () => {
    const long = `bag/data/endpoints/${'l'.repeat(60)}/data/ab/${'ab'.repeat(32)}`;
    expect(splitUstarPath(long)).toEqual({ prefix: long.slice(0, long.indexOf('/data/ab')) , name: `data/ab/${'ab'.repeat(32)}` });
    expect(entryHeader({ path: long, type: 'file', size: 1, mtime: MTIME }).length).toBe(BLOCK);
    const tooLong = `bag/data/${'x'.repeat(200)}/${'y'.repeat(120)}`;
    expect(splitUstarPath(tooLong)).toBeNull();
    expect(entryHeader({ path: tooLong, type: 'file', size: 1, mtime: MTIME }).length).toBe(3 * BLOCK);
  });

  it('refuses what ustar cannot hold instead of writing something else', () => {
    expect(() => entryHeader({ path: 'a b', type: 'file', size: 1, mtime: MTIME })).toThrow(/printable ASCII/);
    expect(() => entryHeader({ path: '/abs', type: 'file', size: 1, mtime: MTIME })).toThrow(/relative/);
    expect(() => entryHeader({ path: 'big', type: 'file', size: 8 * 1024 ** 3, mtime: MTIME })).toThrow(/more than ustar/);
  });

  it('pads content to whole blocks', () => {
    expect(padding(0).length).toBe(0);
    expect(padding(1).length).toBe(511);
    expect(padding(512).length).toBe(0);
    expect(endOfArchive().equals(Buffer.alloc(1024))).toBe(true);
  });

  it('writes archives GNU tar lists with the paths, sizes and mtimes given', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tar-unit-'));
    const tooLong = `bag/${'x'.repeat(200)}/${'y'.repeat(120)}`;
    const archive = Buffer.concat([
      entryHeader({ path: 'bag', type: 'directory', size: 0, mtime: MTIME }),
      smallEntry('bag/hello.txt', Buffer.from('hello\n'), MTIME),
      smallEntry(tooLong, Buffer.from('x'), MTIME),
      endOfArchive(),
    ]);
    writeFileSync(join(dir, 'a.tar'), archive);
    const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvf', join(dir, 'a.tar')], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    expect(listing).toContain('drwxr-xr-x 0/0');
    expect(listing).toMatch(/-rw-r--r-- 0\/0\s+6 2026-12-01 10:00:00 bag\/hello.txt/);
    expect(listing).toContain(tooLong);
    expect(execFileSync('tar', ['-xOf', join(dir, 'a.tar'), 'bag/hello.txt'], { encoding: 'utf8' })).toBe('hello\n');
  });
});

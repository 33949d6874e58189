import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { configDir, readSession, writeSession, type StoredSession } from './session-file.ts';

let dir: string;
const session: StoredSession = { version: 1, gateway: 'https://127.0.0.1:8443', caFile: '/tmp/ca.pem', user: 'alice', role: 'admin', token: 'tok.sig', expiresAt: '2026-12-01T12:00:00.000Z' };
const before = Date.parse('2026-12-01T11:00:00Z');

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'session-file-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('the session file', () => {
  it('lives under the user\'s config directory', () => {
    expect(configDir({ TENANT_BACKUP_CONFIG_DIR: '/x' }, 'linux', '/home/a')).toBe('/x');
    expect(configDir({ XDG_CONFIG_HOME: '/home/a/.cfg' }, 'linux', '/home/a')).toBe('/home/a/.cfg/tenant-backup');
    expect(configDir({}, 'linux', '/home/a')).toBe('/home/a/.config/tenant-backup');
    expect(configDir({ APPDATA: 'C:\\Users\\a\\AppData\\Roaming' }, 'win32', 'C:\\Users\\a')).toContain('tenant-backup');
  });

  it('is written 0600 in a 0700 directory, also over a file that was readable, and read back', async () => {
    const path = join(dir, 'nested', 'session.json');
    await writeSession(session, path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'nested'))).mode & 0o777).toBe(0o700);
    await chmod(path, 0o644);
    await writeSession({ ...session, token: 'new.sig' }, path);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect(await readSession(path, before)).toEqual({ ...session, token: 'new.sig' });
  });

  it('is refused when others can read it, when it is missing, malformed or expired, saying what to do', async () => {
    const path = join(dir, 'session.json');
    await expect(readSession(path, before)).rejects.toThrow('not signed in: run tenant-backup login');
    await writeSession(session, path);
    await chmod(path, 0o640);
    await expect(readSession(path, before)).rejects.toThrow(`${path} can be read by other users (mode 640); it holds a session token: run chmod 600 ${path}`);
    await writeFile(path, '{"version":1}', { mode: 0o600 });
    await chmod(path, 0o600);
    await expect(readSession(path, before)).rejects.toThrow('is not a session file of this version');
    await writeSession(session, path);
    await expect(readSession(path, Date.parse('2026-12-01T12:00:00Z'))).rejects.toThrow('the session of alice on https://127.0.0.1:8443 expired at 2026-12-01T12:00:00.000Z: run tenant-backup login again');
    expect(await readFile(path, 'utf8')).not.toContain('password');
  });
});

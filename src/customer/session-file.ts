/**
 * Where `tenant-backup login` keeps the session the other customer commands use: one JSON file under
 * the user's config directory ($TENANT_BACKUP_CONFIG_DIR, else $XDG_CONFIG_HOME/tenant-backup, else
 * ~/.config/tenant-backup; %APPDATA%\tenant-backup on Windows). It holds a bearer token, so it is
 * written 0600 in a 0700 directory (atomically: a temporary file renamed over it), and a file others
 * can read is refused rather than used, as ssh refuses a readable key. No password is ever stored.
 */
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

export interface StoredSession {
  version: 1;
  /** https://host:port of the space's gateway. */
  gateway: string;
  /** Absolute path of the CA file the gateway's certificate is verified against. */
  caFile: string;
  user: string;
  role: string;
  token: string;
  expiresAt: string;
}

export const SESSION_FILE_NAME = 'session.json';

export function configDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform, home = homedir()): string {
  if (env.TENANT_BACKUP_CONFIG_DIR) return env.TENANT_BACKUP_CONFIG_DIR;
  if (platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'tenant-backup');
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), 'tenant-backup');
}

export function sessionPath(dir = configDir()): string {
  return join(dir, SESSION_FILE_NAME);
}

export async function writeSession(session: StoredSession, path = sessionPath()): Promise<void> {
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600, flag: 'w' });
  // The mode given to writeFile is masked by the umask and ignored for an existing file: set it.
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

export class SessionFileError extends Error {
  override readonly name = 'SessionFileError';
}

const FIELDS = ['gateway', 'caFile', 'user', 'role', 'token', 'expiresAt'] as const;

/** The stored session, or an error saying what to do (log in; fix the file's mode). */
export async function readSession(path = sessionPath(), now = Date.now()): Promise<StoredSession> {
  let text: string;
  try {
    const info = await stat(path);
    if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
      throw new SessionFileError(`${path} can be read by other users (mode ${(info.mode & 0o777).toString(8)}); it holds a session token: run chmod 600 ${path}, or tenant-backup login again`);
    }
    text = await readFile(path, 'utf8');
  } catch (error) {
    if (error instanceof SessionFileError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new SessionFileError('not signed in: run tenant-backup login --gateway <url> --ca-file <ca.pem> --user <name> first');
    throw error;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new SessionFileError(`${path} is not a session file (not JSON): run tenant-backup login again`);
  }
  const record = parsed as Record<string, unknown>;
  if (typeof parsed !== 'object' || parsed === null || record.version !== 1 || FIELDS.some((f) => typeof record[f] !== 'string')) {
    throw new SessionFileError(`${path} is not a session file of this version: run tenant-backup login again`);
  }
  const session = parsed as StoredSession;
  if (Date.parse(session.expiresAt) <= now) throw new SessionFileError(`the session of ${session.user} on ${session.gateway} expired at ${session.expiresAt}: run tenant-backup login again`);
  return session;
}

export async function removeSession(path = sessionPath()): Promise<void> {
  await rm(path, { force: true });
}

/** The helm built with the control plane (hack/controlplane/build.sh), run as the chart tests need it. */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultBinDir } from '../harness/controlplane.ts';

const exec = promisify(execFile);

/** Helm keeps its caches and repositories under a throwaway home, never the user's ~/.config or ~/.cache. */
const helmHome = mkdtempSync(join(tmpdir(), 'helm-home-'));

/**
 * The environment helm (and a script of helm and kubectl commands) runs in: the throwaway home, and
 * the control plane's helm and kubectl first on PATH, so a script from the docs runs the versions
 * the suite targets, never stray ones.
 */
export function helmEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    PATH: `${defaultBinDir}:${process.env.PATH ?? ''}`,
    HELM_CACHE_HOME: join(helmHome, 'cache'),
    HELM_CONFIG_HOME: join(helmHome, 'config'),
    HELM_DATA_HOME: join(helmHome, 'data'),
    ...extra,
  };
}

export async function helm(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const binary = join(defaultBinDir, 'helm');
  try {
    return await exec(binary, args, { maxBuffer: 16 * 1024 * 1024, env: helmEnv() });
  } catch (error) {
    const { code, stdout, stderr } = error as { code?: number | string; stdout?: string; stderr?: string };
    if (code === 'ENOENT') throw new Error('helm not built: run bash hack/controlplane/build.sh (make test does it)', { cause: error });
    throw new Error(`helm ${args.join(' ')} failed (${code}):\n${stderr ?? ''}${stdout ?? ''}`, { cause: error });
  }
}

/** Our chart installed, upgraded and read back on the kind cluster, with the image loaded into it. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { defaultBinDir } from '../harness/controlplane.ts';

const run = promisify(execFile);
export const chartDir = join(import.meta.dirname, '../../charts/tenant-backup-operator');
export const RELEASE = 'tenant-backup-operator';
export const OPERATOR_NAMESPACE = 'backup-system';
export const OPERATOR_DEPLOYMENT = 'tenant-backup-operator';

export async function helm(kubeconfig: string, args: string[]): Promise<string> {
  const { stdout } = await run(join(defaultBinDir, 'helm'), ['--kubeconfig', kubeconfig, ...args], { maxBuffer: 16 * 1024 * 1024, timeout: 10 * 60_000 })
    .catch((error: { stderr?: string; stdout?: string; message: string }) => {
      throw new Error(`helm ${args.join(' ')} failed:\n${error.stderr ?? ''}${error.stdout ?? error.message}`);
    });
  return stdout;
}

function imageValues(image: string): string[] {
  const colon = image.lastIndexOf(':');
  return ['--set', `image.repository=${image.slice(0, colon)}`, '--set', `image.tag=${image.slice(colon + 1)}`, '--set', 'image.pullPolicy=Never'];
}

/** `helm upgrade --install` of our chart with the given image, waiting until the operator is rolled out. */
export async function installOperator(kubeconfig: string, image: string, extra: string[] = []): Promise<void> {
  await helm(kubeconfig, [
    'upgrade', '--install', RELEASE, chartDir, '--namespace', OPERATOR_NAMESPACE, '--create-namespace',
    ...imageValues(image),
    // The operator reconciles only as leader; a short lease makes the takeover test quick.
    '--set', 'leaderElection.leaseDuration=10s',
    ...extra,
    '--wait', '--timeout', '5m',
  ]);
}

/**
 * What the kind suite needs from the machine. It never skips: without these it fails, saying what is
 * missing and the command that provides it.
 */
import { access, constants } from 'node:fs/promises';
import { requireCommand } from '../harness/commands.ts';

export async function kindPrerequisites(): Promise<void> {
  const dockerSocket = await access('/var/run/docker.sock', constants.W_OK).then(() => true, () => false);
  const root = process.getuid?.() === 0;
  if (!root && !dockerSocket) {
    throw new Error('the kind suite needs a Docker engine it can use: run as root (hack/kind/dockerd.sh starts dockerd), or start Docker and add your user to the docker group');
  }
  await requireCommand('docker', 'apt-get install docker.io');
  if (root) await requireCommand('dockerd', 'apt-get install docker.io');
  await requireCommand('jq', 'apt-get install jq');
  await requireCommand('restic', 'apt-get install restic');
}

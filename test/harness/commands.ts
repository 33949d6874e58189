import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * Fails loudly, naming the install command, when a tool a test needs is missing: a test that cannot
 * run must not pass by skipping.
 */
export async function requireCommand(command: string, install: string): Promise<void> {
  try {
    await run('sh', ['-c', `command -v ${command}`]);
  } catch {
    throw new Error(`'${command}' is required but not installed; install it with: ${install} (make test does this for you)`);
  }
}

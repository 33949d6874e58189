/**
 * Starts and stops a local control plane (see test/harness/controlplane.ts).
 *   node hack/cluster.ts start [name]   prints the kubeconfig path
 *   node hack/cluster.ts stop [name]
 *   node hack/cluster.ts kubeconfig [name]
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { clusterDir, loadState, startCluster, stopCluster } from '../test/harness/controlplane.ts';

const [command, name = 'demo'] = process.argv.slice(2);
const dir = clusterDir(name);

async function main(): Promise<void> {
  switch (command) {
    case 'start': {
      if (existsSync(join(dir, 'cluster.json'))) {
        const state = await loadState(dir);
        const alive = Object.values(state.components).every((c) => {
          try {
            process.kill(c.pid, 0);
            return true;
          } catch {
            return false;
          }
        });
        if (alive) {
          console.error(`cluster '${name}' is already running`);
          console.log(state.kubeconfig);
          return;
        }
        await stopCluster(dir);
      }
      const state = await startCluster({ name });
      console.error(`cluster '${name}' started in ${state.startSeconds}s (${state.server}); logs in ${join(state.dir, 'logs')}`);
      console.log(state.kubeconfig);
      return;
    }
    case 'stop':
      await stopCluster(dir);
      console.error(`cluster '${name}' stopped`);
      return;
    case 'kubeconfig':
      console.log((await loadState(dir)).kubeconfig);
      return;
    default:
      console.error('usage: node hack/cluster.ts start|stop|kubeconfig [name]');
      process.exitCode = 2;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});

/**
 * `tenant-backup gateway`: serves one backup space until SIGTERM/SIGINT, then drains requests in
 * flight and exits. Exits 1 when the configuration is unusable at startup (a reload that is unusable
 * keeps the previous configuration instead).
 */
import type { Command } from 'commander';
import { parseListenAddress } from '../runtime/listen-address.ts';
import { createLogger } from '../log/logger.ts';
import { peerSourceOf } from './peers.ts';
import { Gateway } from './server.ts';

/**
 * Node flags to run the gateway with (`node ${GATEWAY_NODE_FLAGS} src/cli/main.ts gateway ...`); the
 * BackupSpace controller should put them in the gateway container's command.
 *
 * Why: every upload allocates buffers outside the V8 heap (one per 16 KiB TLS record from the HTTP
 * parser, one per sealed at-rest chunk) at the rate data arrives, ~2 GiB per GiB uploaded. Such a
 * buffer is freed only when the GC finds its small JS wrapper dead, and V8 starts a full mark-compact
 * whenever external memory has grown by 64 MiB since the last GC. With V8's default young generation
 * (semi-spaces growing to 16 MiB) the wrappers of ~100 MiB of buffers fit in it, so scavenges come too
 * rarely and the 64 MiB trigger fires first: ~33 mark-compacts per GiB, a fifth of the gateway's CPU,
 * and freshly mapped memory for every buffer. A 1 MiB semi-space scavenges every ~12 MiB uploaded,
 * freeing the buffers young; mark-compacts drop to ~1 per GiB, the allocator reuses warm memory, and
 * peak RSS falls (gateway CPU per GiB 3.4 → 2.7 with restic; 2.4 → 1.8 user-s with curl). A larger
 * initial old-space limit is still needed against the mark-compacts the old-generation heuristics
 * start (without it the CPU is back to 3.9). They cannot be set at runtime (v8.setFlagsFromString is
 * too late) nor in NODE_OPTIONS (not allowed there), hence command-line flags.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--initial-old-space-size=64'];

export function registerGatewayCommand(program: Command): void {
  program
    .command('gateway')
    .description('Serve one backup space: restic REST protocol v2 over TLS 1.2+, per-endpoint credentials and repositories, quota, append-only, at-rest encryption, human routes and reports')
    .requiredOption('--config-dir <dir>', 'directory with access.json, tls.crt, tls.key, ca.crt, and session.key or (outside a cluster) data.key when present (mounted Secrets)')
    .requiredOption('--data-dir <dir>', 'directory holding the repositories of the space (the space volume)')
    .option('--listen <host:port>', 'address to listen on', '0.0.0.0:8443')
    .option('--log-level <level>', 'trace, debug, info, warn, error', process.env.LOG_LEVEL ?? 'info')
    .option('--peers <host:port,...>', 'the other replicas of the space, to relay an unseal to (processes on one host; in a cluster use --peers-dns)')
    .option('--peers-dns <name>', 'DNS name listing every replica of the space (its headless Service), on this gateway\'s port')
    .option('--key-service-url <base>', 'the operator\'s key service, where a provider-custody gateway gets its data key at start (verified against ca.crt of --config-dir)')
    .option('--key-token-file <path>', 'the projected ServiceAccount token to present to the key service')
    .action(async (options: { configDir: string; dataDir: string; listen: string; logLevel: string; peers?: string; peersDns?: string; keyServiceUrl?: string; keyTokenFile?: string }) => {
      const log = createLogger({ name: 'gateway', level: options.logLevel });
      const { host, port } = parseListenAddress(options.listen);
      const peers = peerSourceOf(options);
      if (Boolean(options.keyServiceUrl) !== Boolean(options.keyTokenFile)) throw new Error('--key-service-url and --key-token-file go together');
      const keyService = options.keyServiceUrl && options.keyTokenFile ? { url: options.keyServiceUrl, tokenFile: options.keyTokenFile } : undefined;
      let gateway: Gateway;
      try {
        gateway = await Gateway.start({ configDir: options.configDir, dataDir: options.dataDir, host, port, log, peers, keyService });
      } catch (error) {
        log.fatal({ err: error }, 'gateway could not start');
        log.flush();
        throw error;
      }
      await new Promise<void>((resolve) => {
        const shutdown = (signal: NodeJS.Signals): void => {
          log.info({ signal }, 'shutting down: draining requests in flight');
          gateway.stop().then(resolve, resolve);
        };
        process.once('SIGTERM', shutdown);
        process.once('SIGINT', shutdown);
      });
      log.info('gateway stopped');
      log.flush();
    });
}

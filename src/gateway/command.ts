/**
 * `tenant-backup gateway`: serves one backup space until SIGTERM/SIGINT, then drains requests in
 * flight and exits. Exits 1 when the configuration is unusable at startup (a reload that is unusable
 * keeps the previous configuration instead).
 */
import type { Command } from 'commander';
import { createLogger } from '../log/logger.ts';
import { Gateway } from './server.ts';

/**
 * Node flags to run the gateway with (`node ${GATEWAY_NODE_FLAGS} src/cli/main.ts gateway ...`); the
 * BackupSpace controller should put them in the gateway container's command.
 *
 * Why: every upload allocates buffers outside the V8 heap (network reads, cipher output) at the
 * rate data arrives. With V8's default limits, sized from the gateway's small live heap (~15 MiB),
 * that external memory starts a full mark-compact every few tens of MiB uploaded — about 40 per
 * 512 MiB, a fifth of the gateway's CPU. A larger initial old-space limit cuts them to a third at
 * the same peak memory. It cannot be set at runtime (v8.setFlagsFromString is too late) nor in
 * NODE_OPTIONS (not allowed there), hence a command-line flag.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--initial-old-space-size=64'];

export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses `host:port`, `[v6]:port` or `:port`. */
export function parseListenAddress(text: string): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65535) throw new Error(`--listen must be host:port, [ipv6]:port or :port, not "${text}"`);
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

export function registerGatewayCommand(program: Command): void {
  program
    .command('gateway')
    .description('Serve one backup space: restic REST protocol v2 over TLS 1.2+, per-endpoint credentials and repositories, quota, append-only, at-rest encryption, human routes and reports')
    .requiredOption('--config-dir <dir>', 'directory with access.json, tls.crt, tls.key and data.key or session.key when present (mounted Secrets)')
    .requiredOption('--data-dir <dir>', 'directory holding the repositories of the space (the space volume)')
    .option('--listen <host:port>', 'address to listen on', '0.0.0.0:8443')
    .option('--log-level <level>', 'trace, debug, info, warn, error', process.env.LOG_LEVEL ?? 'info')
    .action(async (options: { configDir: string; dataDir: string; listen: string; logLevel: string }) => {
      const log = createLogger({ name: 'gateway', level: options.logLevel });
      const { host, port } = parseListenAddress(options.listen);
      let gateway: Gateway;
      try {
        gateway = await Gateway.start({ configDir: options.configDir, dataDir: options.dataDir, host, port, log });
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

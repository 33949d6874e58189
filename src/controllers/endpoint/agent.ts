/**
 * Backup client versions (S3: agents kept up to date, stale ones flagged). The gateway reports the
 * client's User-Agent. Clients that name themselves (`rustic/0.9.0`, or restic ≥ 0.17 run with
 * `--http-user-agent restic/0.17.3`) are compared with the minimum; restic before 0.17 sends Go's
 * default `Go-http-client/1.1`, which says nothing about its version, and is reported as is.
 */

/** Oldest restic release this service supports: REST protocol v2, compression-aware repositories. */
export const MINIMUM_AGENT = 'restic/0.14.0';

function parse(agent: string): { product: string; version: number[] } | undefined {
  const match = /^([A-Za-z][\w.-]*)\/v?(\d+(?:\.\d+)*)/.exec(agent.trim());
  if (!match?.[1] || !match[2]) return undefined;
  return { product: match[1].toLowerCase(), version: match[2].split('.').map(Number) };
}

/**
 * True when `agent` is the same product as `minimum` at an older version, false when it is not
 * older, undefined when the agent does not say which product and version it is.
 */
export function isOutdatedAgent(agent: string, minimum: string): boolean | undefined {
  const seen = parse(agent);
  const floor = parse(minimum);
  if (!seen || !floor || seen.product !== floor.product) return undefined;
  for (let i = 0; i < Math.max(seen.version.length, floor.version.length); i++) {
    const a = seen.version[i] ?? 0;
    const b = floor.version[i] ?? 0;
    if (a !== b) return a < b;
  }
  return false;
}

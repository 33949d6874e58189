/**
 * Backup client versions (S3: agents kept up to date, stale ones flagged). The gateway reports the
 * client's User-Agent, e.g. `restic/0.14.0 (linux/amd64)`; an agent older than the minimum is flagged.
 */

/** Oldest restic release this service supports: REST protocol v2, compression-aware repositories. */
export const MINIMUM_AGENT = 'restic/0.14.0';

function parse(agent: string): { product: string; version: number[] } | undefined {
  const match = /^([A-Za-z][\w.-]*)\/v?(\d+(?:\.\d+)*)/.exec(agent.trim());
  if (!match?.[1] || !match[2]) return undefined;
  return { product: match[1].toLowerCase(), version: match[2].split('.').map(Number) };
}

/** True when `agent` is the same product as `minimum` at an older version. Unknown agents are not flagged. */
export function isOutdatedAgent(agent: string, minimum: string): boolean {
  const seen = parse(agent);
  const floor = parse(minimum);
  if (!seen || !floor || seen.product !== floor.product) return false;
  for (let i = 0; i < Math.max(seen.version.length, floor.version.length); i++) {
    const a = seen.version[i] ?? 0;
    const b = floor.version[i] ?? 0;
    if (a !== b) return a < b;
  }
  return false;
}

/** The addresses servers listen on, as flags give them. */
export interface ListenAddress {
  host: string;
  port: number;
}

/** Parses `host:port`, `[v6]:port` or `:port` (every interface); `flag` names the option in the error. */
export function parseListenAddress(text: string, flag = '--listen'): ListenAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65535) throw new Error(`${flag} must be host:port, [ipv6]:port or :port, not "${text}"`);
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? '0.0.0.0' : host, port };
}

/**
 * A bind address in controller-runtime's style: `0` (or empty) disables the server, a bare port
 * means every interface, otherwise as parseListenAddress.
 */
export function parseBindAddress(text: string, flag: string): ListenAddress | undefined {
  if (text === '0' || text === '') return undefined;
  return parseListenAddress(/^\d+$/.test(text) ? `:${text}` : text, flag);
}

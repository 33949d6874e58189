/**
 * The one way this project logs: pino JSON lines on stderr, with secret material redacted by path
 * before it is serialized. Anything that might carry a secret (Secret data, credentials, passwords,
 * keys, tokens, Authorization headers) is listed here, so a new log call cannot leak one by accident.
 */
import { pino, type Logger } from 'pino';

export const REDACTED = '[REDACTED]';

/** Paths pino censors wherever they appear in a log record (one level of wildcard nesting). */
export const REDACT_PATHS: readonly string[] = [
  'data', '*.data', 'stringData', '*.stringData',
  'password', '*.password', 'passphrase', '*.passphrase',
  'secret', '*.secret', 'token', '*.token',
  'key', '*.key', 'dataKey', '*.dataKey', 'masterKey', '*.masterKey',
  'credential', '*.credential', 'credentials', '*.credentials',
  'totpSecret', '*.totpSecret', 'otpauthUri', '*.otpauthUri',
  'authorization', '*.authorization', 'headers.authorization', 'req.headers.authorization',
  'req.headers.cookie', 'headers.cookie',
];

export type { Logger };

export function createLogger(options: { name: string; level?: string; destination?: NodeJS.WritableStream } ): Logger {
  return pino(
    {
      name: options.name,
      level: options.level ?? process.env.LOG_LEVEL ?? 'info',
      redact: { paths: [...REDACT_PATHS], censor: REDACTED },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination ?? pino.destination({ fd: 2, sync: false }),
  );
}

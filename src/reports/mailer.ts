/**
 * Sending a report through the provider's SMTP relay (nodemailer): TLS always, 1.2 or later, either
 * implicit (SMTPS, usually port 465) or STARTTLS required (usually 587; a relay that does not offer it
 * is refused, never a plaintext fallback). The relay's certificate is checked against the system CAs
 * or the configured bundle. The credentials are read from their Secret at each send (a rotated
 * password takes effect without a restart) and never logged: nodemailer's own logger stays off.
 */
import { createTransport } from 'nodemailer';
import type { RenderedReport } from './render.ts';

export type SmtpTlsMode = 'implicit' | 'starttls';

export interface SmtpSettings {
  host: string;
  port: number;
  tlsMode: SmtpTlsMode;
  from: string;
  /** PEM bundle of the CAs that sign the relay's certificate; absent: the system's. */
  caPem?: string;
  /** Milliseconds for connecting, greeting and each command. */
  timeoutMs?: number;
}

export interface SmtpCredentials { username: string; password: string }

export interface ReportMessage extends RenderedReport {
  to: string[];
  /** Stable per tenant and period: a duplicate (see record.ts) carries the same Message-ID. */
  messageId: string;
}

export interface ReportMailer {
  /** Sends the message; resolves with the Message-ID the relay accepted. */
  send(message: ReportMessage): Promise<string>;
}

export function smtpMailer(settings: SmtpSettings, credentials: () => Promise<SmtpCredentials | undefined>): ReportMailer {
  return {
    async send(message) {
      const auth = await credentials();
      const transport = createTransport({
        host: settings.host,
        port: settings.port,
        secure: settings.tlsMode === 'implicit',
        requireTLS: settings.tlsMode === 'starttls',
        ...(auth ? { auth: { user: auth.username, pass: auth.password } } : {}),
        tls: { minVersion: 'TLSv1.2', servername: settings.host, ...(settings.caPem ? { ca: settings.caPem } : {}) },
        connectionTimeout: settings.timeoutMs ?? 30_000,
        greetingTimeout: settings.timeoutMs ?? 30_000,
        socketTimeout: settings.timeoutMs ?? 30_000,
        logger: false,
        debug: false,
      });
      try {
        const info = await transport.sendMail({
          from: settings.from,
          to: message.to,
          subject: message.subject,
          text: message.text,
          html: message.html,
          messageId: message.messageId,
        });
        return info.messageId;
      } catch (error) {
        // Whatever the relay or the TLS layer said, without the password should it echo it; no cause
        // attached, since the original error (and its command log) may carry the AUTH exchange.
        // eslint-disable-next-line preserve-caught-error
        throw new Error(describeSendError(error, auth));
      } finally {
        transport.close();
      }
    },
  };
}

/** An SMTP error as it may be recorded: its response line and code, nothing of the session's credentials. */
export function describeSendError(error: unknown, credentials?: SmtpCredentials): string {
  const base = error instanceof Error ? error.message : String(error);
  const scrubbed = credentials?.password ? base.split(credentials.password).join('[redacted]') : base;
  return scrubbed.slice(0, 512);
}

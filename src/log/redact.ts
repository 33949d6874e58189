/**
 * Redaction of free text: error messages that end up in logs and in status conditions. The logger
 * censors secret material by field name (REDACT_PATHS), but an error's message is one string, and an
 * API server or gateway answer may echo what it was sent (a URL with credentials, a header, a field's
 * value). This censors, inside the text, what the same field names label and what looks like a
 * secret on its own (PEM blocks, bearer tokens, JWTs, long random strings). Over-censoring a word of
 * a message costs little; leaking a secret into a status every reader of the object sees costs a lot.
 */
import { REDACTED } from './logger.ts';

/** Identifiers ending in one of these label a secret (`password=…`, `"accessToken": "…"`, `X-Api-Key: …`). */
const SECRET_NAME = String.raw`[A-Za-z0-9_.-]*(?:password|passwd|passphrase|secret|token|key|credentials?|authorization|cookie)|data|stringData|otpauthUri`;

/** The label, its quotes and separator kept; the value, quoted or up to the next space or delimiter, censored. */
const LABELLED = new RegExp(String.raw`(["']?)\b(${SECRET_NAME})\1(\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&"'})\]]+)`, 'gi');

const RULES: readonly ((text: string) => string)[] = [
  // PEM blocks (private keys, certificates with their keys), to their end or the end of the text.
  (text) => text.replace(/-----BEGIN [A-Z0-9 ]+-----[\s\S]*?(?:-----END [A-Z0-9 ]+-----|$)/g, REDACTED),
  // Credentials in URLs: scheme://user:password@host, or a token as the user.
  (text) => text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@]+@/gi, `$1${REDACTED}@`),
  (text) => text.replace(/\botpauth:\/\/\S+/gi, REDACTED),
  // HTTP authorization schemes followed by their credentials.
  (text) => text.replace(/\b(Bearer|bearer|Basic|Digest)\s+[A-Za-z0-9._~+/=-]+/g, `$1 ${REDACTED}`),
  // JSON Web Tokens (ServiceAccount tokens among them).
  (text) => text.replace(/\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]*)?/g, REDACTED),
  // name=value, name: value, "name": "value", with the names the logger censors.
  (text) => text.replace(LABELLED, `$1$2$1$3${REDACTED}`),
  // Long runs of mixed-case letters and digits: keys and tokens without a label (Kubernetes names
  // and UIDs are lower case, so they stay readable).
  (text) => text.replace(/[A-Za-z0-9+/=_-]{32,}/g, (run) => (/[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run) ? REDACTED : run)),
];

export function redactText(text: string): string {
  return RULES.reduce((result, rule) => rule(result), text);
}

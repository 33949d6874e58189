/**
 * The customer admin's commands, speaking the gateway's human routes (src/gateway/human-routes.ts)
 * so nobody needs curl:
 *
 *   tenant-backup login --gateway https://host:port --ca-file ca.pem --user alice
 *   tenant-backup usage [--json]
 *   tenant-backup unseal
 *   tenant-backup set-password
 *
 * Passwords are typed hidden at the terminal, or read from a file or stdin (`--password-file -`),
 * never taken in argv. The TOTP code is asked at the terminal, or given with --totp-code /
 * $TENANT_BACKUP_TOTP_CODE (a code is good once, for 30 s). The session token lives in a 0600 file
 * under the user's config directory (session-file.ts); the gateway's certificate is always verified
 * against --ca-file.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { callGateway, gatewayUrl, refusal, type GatewayTarget } from './gateway-client.ts';
import { isInteractive, obtainPassword, processTerminal, promptHidden, promptVisible, type Terminal } from './secret-input.ts';
import { readSession, sessionPath, writeSession, type StoredSession } from './session-file.ts';
import { parseUsage, usageText } from './usage-text.ts';

const TOTP_CODE = /^[0-9]{6}$/;

/**
 * The gateway's route for the space password (src/gateway/password-route.ts): `{newPassword}` the first
 * time, `{oldPassword, newPassword}` to change it. An older gateway without it answers 404, which the
 * command reports as such.
 */
export const SET_PASSWORD_ROUTE = '/v1/password';

interface LoginFlags { gateway?: string; caFile?: string; user?: string; passwordFile?: string; totpCode?: string }

async function totpCode(flags: LoginFlags, terminal: Terminal): Promise<string | undefined> {
  const given = flags.totpCode ?? process.env.TENANT_BACKUP_TOTP_CODE;
  const code = given ?? (isInteractive(terminal) ? await promptVisible('TOTP code from your authenticator app (empty if you have none): ', terminal) : undefined);
  if (code === undefined || code === '') return undefined;
  if (!TOTP_CODE.test(code)) throw new Error(`${given !== undefined ? '--totp-code: ' : ''}a TOTP code is the 6 digits your authenticator app shows, not '${code}'`);
  return code;
}

function required(value: string | undefined, flag: string, env: string): string {
  if (value === undefined || value === '') throw new Error(`${flag} is required (or $${env})`);
  return value;
}

export async function login(flags: LoginFlags, terminal: Terminal = processTerminal()): Promise<string> {
  const gateway = gatewayUrl(required(flags.gateway ?? process.env.TENANT_BACKUP_GATEWAY, '--gateway', 'TENANT_BACKUP_GATEWAY')).origin;
  const caFile = resolve(required(flags.caFile ?? process.env.TENANT_BACKUP_CA_FILE, '--ca-file', 'TENANT_BACKUP_CA_FILE'));
  const user = required(flags.user ?? process.env.TENANT_BACKUP_USER, '--user', 'TENANT_BACKUP_USER');
  const password = await obtainPassword({ source: flags.passwordFile, flag: '--password-file', prompt: `Password of ${user}: `, terminal });
  const code = await totpCode(flags, terminal);
  const answer = await callGateway({ gateway, caFile }, 'POST', '/v1/session', { body: { user, password, ...(code !== undefined ? { code } : {}) } });
  if (answer.status === 401) {
    throw new Error(`login refused: the gateway did not accept user ${user} with that password${code !== undefined ? ' and TOTP code' : ' (no TOTP code was given; your tenant may require one)'}. It does not say which was wrong; a code is good once and for 30 s — wait for the next one and try again`);
  }
  if (answer.status === 404) throw new Error(`login refused: ${gateway} has no sign-in for people (the tenant's two-factor policy is Disabled, or this is not a space gateway)`);
  if (answer.status !== 200) throw refusal('login', answer);
  const body = answer.body as Partial<StoredSession>;
  if (typeof body.token !== 'string' || typeof body.expiresAt !== 'string') throw new Error('login: the gateway\'s answer carries no session token');
  const path = sessionPath();
  await writeSession({ version: 1, gateway, caFile, user: body.user ?? user, role: body.role ?? 'unknown', token: body.token, expiresAt: body.expiresAt }, path);
  return `Signed in to ${gateway} as ${body.user ?? user} (${body.role ?? 'unknown'}) until ${body.expiresAt}; session kept in ${path}`;
}

async function session(caFile: string | undefined): Promise<{ stored: StoredSession; target: GatewayTarget }> {
  const stored = await readSession(sessionPath());
  return { stored, target: { gateway: stored.gateway, caFile: caFile !== undefined ? resolve(caFile) : stored.caFile } };
}

export async function usage(flags: { caFile?: string; json?: boolean }): Promise<string> {
  const { stored, target } = await session(flags.caFile);
  const answer = await callGateway(target, 'GET', '/v1/usage', { token: stored.token });
  if (answer.status !== 200) throw refusal('usage', answer);
  return flags.json === true ? JSON.stringify(answer.body, null, 2) : usageText(parseUsage(answer.body));
}

interface UnsealAnswer { state?: string; message?: string; replicas?: { total: number; ready: number; peers: { peer: string; outcome: string; message?: string }[] } }

export async function unseal(flags: { caFile?: string; passwordFile?: string }, terminal: Terminal = processTerminal()): Promise<string> {
  const { stored, target } = await session(flags.caFile);
  const password = await obtainPassword({ source: flags.passwordFile, flag: '--password-file', prompt: 'Customer key password of the space: ', terminal });
  const answer = await callGateway(target, 'POST', '/v1/unseal', { token: stored.token, body: { password } });
  if (answer.status === 401 && typeof answer.body === 'string' && answer.body.includes('wrong customer key password')) {
    throw new Error('unseal refused: wrong customer key password (repeated wrong passwords lock unsealing and your sign-in for a while)');
  }
  if (answer.status !== 200) throw refusal('unseal', answer);
  const body = answer.body as UnsealAnswer;
  const replicas = body.replicas;
  const failed = (replicas?.peers ?? []).filter((p) => p.outcome !== 'ready').map((p) => `\n  ${p.peer}: ${p.outcome}${p.message ? ` (${p.message})` : ''}`);
  const count = replicas ? `${replicas.ready} of ${replicas.total} gateway replica(s) hold the key` : 'the gateway holds the key';
  return `${body.message === 'already unsealed' ? 'Already unsealed' : 'Unsealed'}: ${count}${failed.length > 0 ? `; not reached:${failed.join('')}\nThey get the key at the next unseal.` : ''}`;
}

export async function setPassword(flags: { caFile?: string; currentPasswordFile?: string; newPasswordFile?: string }, terminal: Terminal = processTerminal()): Promise<string> {
  if (flags.currentPasswordFile === '-' && flags.newPasswordFile === '-') throw new Error('--current-password-file and --new-password-file cannot both be stdin (-): put one in a file');
  const { stored, target } = await session(flags.caFile);
  let current: string | undefined;
  let next: string;
  if (flags.newPasswordFile !== undefined) {
    next = await obtainPassword({ source: flags.newPasswordFile, flag: '--new-password-file', prompt: '', terminal });
    current = flags.currentPasswordFile !== undefined ? await obtainPassword({ source: flags.currentPasswordFile, flag: '--current-password-file', prompt: '', terminal }) : undefined;
  } else {
    if (!isInteractive(terminal)) throw new Error('no terminal to ask for the passwords on: give --new-password-file <file> (and --current-password-file <file> when a password is set; - reads stdin)');
    current = flags.currentPasswordFile !== undefined
      ? await obtainPassword({ source: flags.currentPasswordFile, flag: '--current-password-file', prompt: '', terminal })
      : (await promptHidden('Current password (empty if none is set yet): ', terminal)) || undefined;
    next = await promptHidden('New password: ', terminal);
    if (next === '') throw new Error('no new password given');
    if ((await promptHidden('New password again: ', terminal)) !== next) throw new Error('the two new passwords differ; nothing was changed');
  }
  const answer = await callGateway(target, 'POST', SET_PASSWORD_ROUTE, { token: stored.token, body: { ...(current !== undefined ? { oldPassword: current } : {}), newPassword: next } });
  if (answer.status === 404) throw new Error(`set-password: ${stored.gateway} has no ${SET_PASSWORD_ROUTE} route; the gateway must be upgraded before the password can be set from here`);
  if (answer.status !== 200 && answer.status !== 204) throw refusal('set-password', answer);
  return `Password of the space set by ${stored.user}. It is not stored anywhere: without it, a sealed space cannot be opened.`;
}

const print = (text: string): void => {
  process.stdout.write(`${text}\n`);
};

export function registerCustomerCommands(program: Command): void {
  program
    .command('login')
    .description('Sign in to your space\'s gateway (password, then TOTP code) and keep the session for the other commands.')
    .option('--gateway <url>', 'https://<host>:<port> of the space\'s gateway ($TENANT_BACKUP_GATEWAY)')
    .option('--ca-file <file>', 'PEM CA certificate the gateway\'s certificate is verified against ($TENANT_BACKUP_CA_FILE)')
    .option('--user <name>', 'your user name in the tenant ($TENANT_BACKUP_USER)')
    .option('--password-file <file>', 'read the password from the first line of this file, or of stdin with -; default: ask at the terminal, hidden')
    .option('--totp-code <code>', 'the current 6-digit TOTP code ($TENANT_BACKUP_TOTP_CODE); default: ask at the terminal')
    .action(async (flags: LoginFlags) => print(await login(flags)));
  program
    .command('usage')
    .description('Show the space\'s usage against its quota, and each endpoint\'s backups.')
    .option('--ca-file <file>', 'CA file (default: the one given at login)')
    .option('--json', 'print the gateway\'s answer as JSON')
    .action(async (flags: { caFile?: string; json?: boolean }) => print(await usage(flags)));
  program
    .command('unseal')
    .description('Unseal a customer-custody space with its key password (tenant admins): every gateway replica gets the key.')
    .option('--ca-file <file>', 'CA file (default: the one given at login)')
    .option('--password-file <file>', 'read the key password from this file, or stdin with -; default: ask at the terminal, hidden')
    .action(async (flags: { caFile?: string; passwordFile?: string }) => print(await unseal(flags)));
  program
    .command('set-password')
    .description(`Set or change the space's password (tenant admins; the gateway's POST ${SET_PASSWORD_ROUTE}).`)
    .option('--ca-file <file>', 'CA file (default: the one given at login)')
    .option('--current-password-file <file>', 'the current password, from this file or stdin (-)')
    .option('--new-password-file <file>', 'the new password, from this file or stdin (-); default: ask at the terminal twice, hidden')
    .action(async (flags: { caFile?: string; currentPasswordFile?: string; newPasswordFile?: string }) => print(await setPassword(flags)));
}

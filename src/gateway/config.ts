/**
 * Reads and checks the gateway's configuration directory (files in access-config.ts): the access
 * configuration is validated against a schema and then for meaning (names routable, repositories
 * inside the data directory and disjoint, hashes well-formed), so that a bad document is refused as a
 * whole and the previous one stays in force.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { InvalidKeyRecordError, KEY_BYTES, isSecretHash, validateCustomerKeyRecord, validateEnrolmentSeal } from '../crypto/index.ts';
import { ACCESS_CONFIG_VERSION, GATEWAY_RESERVED_PATH_SEGMENTS, type EndpointAccess, type GatewayAccessConfig, type HumanAccess } from './access-config.ts';
import { isValidEndpointName, repositoriesOverlap, repositoryPathProblem } from './paths.ts';

export const ACCESS_FILE = 'access.json';
export const TLS_CERT_FILE = 'tls.crt';
export const TLS_KEY_FILE = 'tls.key';
export const DATA_KEY_FILE = 'data.key';
export const SESSION_KEY_FILE = 'session.key';
/** The per-space token replicas authenticate each other with (peers.ts); absent: no peering. */
export const PEER_TOKEN_FILE = 'peer.token';
/** The CA that signs every replica's certificate, to verify a peer before relaying a password to it. */
export const CA_CERT_FILE = 'ca.crt';

/** The access configuration is unusable; the message names the field and rule, never a secret. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export interface AccessConfiguration {
  access: GatewayAccessConfig;
  /** SHA-256 of the document's bytes: identifies this version in logs and the report. */
  digest: string;
  endpoints: ReadonlyMap<string, EndpointAccess>;
  users: ReadonlyMap<string, HumanAccess>;
  /** Things that work but are probably not what was meant. */
  warnings: string[];
}

const nonEmptyString = { type: 'string', minLength: 1 } as const;

const accessSchema = {
  type: 'object',
  required: ['version', 'space', 'endpoints', 'humans', 'reportTokenHash'],
  properties: {
    version: { const: ACCESS_CONFIG_VERSION },
    space: {
      type: 'object',
      required: ['namespace', 'name', 'uid', 'quotaBytes', 'appendOnly', 'encryptAtRest', 'keyCustody'],
      properties: {
        namespace: nonEmptyString,
        name: nonEmptyString,
        uid: nonEmptyString,
        quotaBytes: { type: 'integer', minimum: 0 },
        appendOnly: { type: 'boolean' },
        encryptAtRest: { type: 'boolean' },
        keyCustody: {
          type: 'object',
          required: ['mode'],
          properties: { mode: { enum: ['provider', 'customer'] }, keyId: nonEmptyString, record: { type: 'object' }, recordVersion: { type: 'integer', minimum: 0 } },
          // Customer custody has a key and its record, or neither (the password is not set yet).
          if: { properties: { mode: { const: 'provider' } } },
          then: { required: ['keyId'] },
          else: { anyOf: [{ required: ['keyId', 'record'] }, { not: { anyOf: [{ required: ['keyId'] }, { required: ['record'] }] } }] },
        },
      },
    },
    endpoints: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'credentialHash', 'repository', 'enabled'],
        properties: {
          name: nonEmptyString,
          credentialHash: nonEmptyString,
          repository: nonEmptyString,
          enabled: { type: 'boolean' },
          enrolment: {
            type: 'object',
            required: ['seal', 'expiresAt', 'repositoryUrl'],
            properties: { seal: { type: 'object' }, expiresAt: nonEmptyString, repositoryUrl: nonEmptyString },
          },
        },
      },
    },
    maintenance: {
      type: 'object',
      required: ['username', 'credentialHash'],
      properties: { username: nonEmptyString, credentialHash: nonEmptyString },
    },
    humans: {
      type: 'object',
      required: ['policy', 'users'],
      properties: {
        policy: { enum: ['two-factor', 'one-factor', 'disabled'] },
        users: {
          type: 'array',
          items: {
            type: 'object',
            required: ['name', 'email', 'role', 'passwordHash'],
            properties: {
              name: nonEmptyString,
              email: { type: 'string' },
              role: { enum: ['admin', 'operator', 'viewer'] },
              passwordHash: nonEmptyString,
              totpSecret: nonEmptyString,
            },
          },
        },
      },
    },
    reportTokenHash: nonEmptyString,
  },
} as const;

const validateShape = new Ajv({ allErrors: true, strict: false }).compile<GatewayAccessConfig>(accessSchema);

/** Parses and checks an access configuration document. Throws ConfigError listing every problem. */
export function parseAccessConfig(text: string): AccessConfiguration {
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch {
    throw new ConfigError(`${ACCESS_FILE} is not valid JSON`);
  }
  if (!validateShape(document)) {
    const problems = (validateShape.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    throw new ConfigError(`${ACCESS_FILE} does not match the access configuration schema: ${problems.join('; ')}`);
  }
  const access = document;
  const problems: string[] = [];
  const warnings: string[] = [];

  const endpoints = new Map<string, EndpointAccess>();
  for (const [i, endpoint] of access.endpoints.entries()) {
    const where = `endpoints[${i}] (${endpoint.name})`;
    if (!isValidEndpointName(endpoint.name)) {
      problems.push(`${where}: name must be a DNS-1123 name and not one of ${GATEWAY_RESERVED_PATH_SEGMENTS.join(', ')}`);
    }
    if (endpoints.has(endpoint.name)) problems.push(`${where}: duplicate endpoint name`);
    endpoints.set(endpoint.name, endpoint);
    const pathProblem = repositoryPathProblem(endpoint.repository);
    if (pathProblem !== null) problems.push(`${where}: repository ${pathProblem}`);
    if (!isSecretHash(endpoint.credentialHash)) problems.push(`${where}: credentialHash is not a valid scrypt hash`);
    if (endpoint.enrolment !== undefined) {
      try {
        validateEnrolmentSeal(endpoint.enrolment.seal);
      } catch (error) {
        if (!(error instanceof InvalidKeyRecordError)) throw error;
        problems.push(`${where}: enrolment.seal: ${error.message}`);
      }
      if (Number.isNaN(Date.parse(endpoint.enrolment.expiresAt))) problems.push(`${where}: enrolment.expiresAt must be an RFC 3339 time`);
    }
    for (const other of access.endpoints.slice(0, i)) {
      if (repositoriesOverlap(endpoint.repository, other.repository)) {
        problems.push(`${where}: repository overlaps the repository of endpoint ${other.name}`);
      }
    }
  }
  if (access.maintenance !== undefined) {
    if (endpoints.has(access.maintenance.username)) problems.push('maintenance.username must differ from every endpoint name');
    if (!isSecretHash(access.maintenance.credentialHash)) problems.push('maintenance.credentialHash is not a valid scrypt hash');
  } else if (access.space.appendOnly) {
    warnings.push('the space is append-only and has no maintenance credential: nobody can forget or prune');
  }
  if (!isSecretHash(access.reportTokenHash)) problems.push('reportTokenHash is not a valid scrypt hash');

  const users = new Map<string, HumanAccess>();
  for (const [i, user] of access.humans.users.entries()) {
    const where = `humans.users[${i}] (${user.name})`;
    if (users.has(user.name)) problems.push(`${where}: duplicate user name`);
    users.set(user.name, user);
    if (!isSecretHash(user.passwordHash)) problems.push(`${where}: passwordHash is not a valid scrypt hash`);
    if (access.humans.policy === 'two-factor' && user.totpSecret === undefined) {
      warnings.push(`${where}: two-factor policy but no TOTP enrolment: this user cannot sign in`);
    }
  }

  const custody = access.space.keyCustody;
  if (custody.mode === 'customer' && custody.record !== undefined) {
    try {
      validateCustomerKeyRecord(custody.record);
    } catch (error) {
      if (!(error instanceof InvalidKeyRecordError)) throw error;
      problems.push(`space.keyCustody.record: ${error.message}`);
    }
  }
  if (custody.mode === 'customer') {
    if (access.humans.policy === 'disabled' || ![...users.values()].some((u) => u.role === 'admin')) {
      warnings.push('customer key custody but no human admin can sign in: the gateway cannot be unsealed, nor its password set');
    }
  }

  if (problems.length > 0) throw new ConfigError(`${ACCESS_FILE} is invalid: ${problems.join('; ')}`);
  return { access, digest: createHash('sha256').update(text).digest('hex'), endpoints, users, warnings };
}

/** Contents of the configuration directory, as read at one moment. */
export interface ConfigFiles {
  accessText: string;
  tlsCert: Buffer;
  tlsKey: Buffer;
  /** data.key contents (provider custody), or null when absent. */
  dataKeyText: string | null;
  /** session.key contents, or null when absent. */
  sessionKeyText: string | null;
  /** peer.token contents, or null when absent. */
  peerTokenText: string | null;
  /** ca.crt (PEM), or null when absent. */
  caCert: Buffer | null;
}

async function readOptional(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/** Reads every file the gateway uses from the configuration directory. */
export async function readConfigFiles(configDir: string): Promise<ConfigFiles> {
  const [accessText, tlsCert, tlsKey, dataKey, sessionKey, peerToken, caCert] = await Promise.all([
    readFile(join(configDir, ACCESS_FILE), 'utf8'),
    readFile(join(configDir, TLS_CERT_FILE)),
    readFile(join(configDir, TLS_KEY_FILE)),
    readOptional(join(configDir, DATA_KEY_FILE)),
    readOptional(join(configDir, SESSION_KEY_FILE)),
    readOptional(join(configDir, PEER_TOKEN_FILE)),
    readOptional(join(configDir, CA_CERT_FILE)),
  ]);
  return {
    accessText,
    tlsCert,
    tlsKey,
    dataKeyText: dataKey?.toString('utf8') ?? null,
    sessionKeyText: sessionKey?.toString('utf8') ?? null,
    peerTokenText: peerToken?.toString('utf8') ?? null,
    caCert,
  };
}

/** Decodes a base64 32-byte key file (data.key, session.key); surrounding whitespace is ignored. */
export function decodeKeyFile(text: string, file: string): Buffer {
  const trimmed = text.trim();
  const bytes = Buffer.from(trimmed, 'base64');
  if (bytes.length !== KEY_BYTES || bytes.toString('base64') !== trimmed) {
    throw new ConfigError(`${file} must be standard base64 of exactly ${KEY_BYTES} bytes`);
  }
  return bytes;
}

/** The peer token from peer.token (surrounding whitespace ignored); too short a token is refused. */
export function decodePeerToken(text: string): string {
  const token = text.trim();
  if (!/^[A-Za-z0-9._~+/=-]{32,512}$/.test(token)) throw new ConfigError(`${PEER_TOKEN_FILE} must be 32 to 512 characters of base64 or base64url`);
  return token;
}

/** A digest of all files, to notice any change cheaply. */
export function digestOf(files: ConfigFiles): string {
  const hash = createHash('sha256');
  for (const part of [files.accessText, files.tlsCert, files.tlsKey, files.dataKeyText ?? '', files.sessionKeyText ?? '', files.peerTokenText ?? '', files.caCert ?? '']) {
    hash.update(createHash('sha256').update(part).digest());
  }
  return hash.digest('hex');
}

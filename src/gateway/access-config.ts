/**
 * The access configuration of one space's gateway: the contract between the operator, which renders
 * it into a Secret (key `access.json`) mounted into the gateway pods, and the gateway, which enforces
 * it. It carries hashes and wrapped keys only, never a plaintext credential, password or data key.
 *
 * Files the gateway reads from its config directory (all from Secrets):
 *   access.json   this document
 *   tls.crt/key   serving certificate (TLS 1.2+)
 *   data.key      base64 of the space's 32-byte data key — present only under provider custody;
 *                 under customer custody the gateway starts sealed (see CustomerKeyCustody).
 *   session.key   optional: base64 of 32 random bytes shared by the space's gateway replicas, to sign
 *                 human session tokens; without it each replica signs with its own random key, so a
 *                 token only works against the replica that issued it.
 *   peer.token    optional: the token the space's replicas authenticate each other with, to relay
 *                 an unseal (src/gateway/peers.ts); without it each replica is unsealed alone.
 *   ca.crt        optional: the CA that signs every replica's certificate, to verify a peer before
 *                 relaying a password to it.
 *
 * The gateway rereads these files when they change (mounted Secrets are swapped by symlink); a bad
 * new version is logged and the previous one stays in force.
 *
 * URLs the gateway serves (details in src/gateway/paths.ts): each endpoint's restic repository at
 * `/<endpoint name>/` (restic: `rest:https://<host>:<port>/<endpoint name>/`, user = endpoint name),
 * and its own routes under the reserved first segments below.
 */

/**
 * First path segments the gateway keeps for itself (`/v1/...` human routes and report, `/metrics`,
 * `/healthz`, `/readyz`). An endpoint with one of these names could not be reached; the gateway
 * refuses such a configuration, so the operator should refuse such Endpoint names first.
 */
export const GATEWAY_RESERVED_PATH_SEGMENTS: readonly string[] = ['v1', 'metrics', 'healthz', 'readyz'];

/** Version of this document's shape; bump on incompatible change. */
export const ACCESS_CONFIG_VERSION = 1;

export interface GatewayAccessConfig {
  version: typeof ACCESS_CONFIG_VERSION;
  space: SpaceAccess;
  /** One entry per Endpoint (backup device) of the space. */
  endpoints: EndpointAccess[];
  /**
   * Separately authorised credential allowed to delete and overwrite (forget/prune) when the space is
   * append-only. Absent: nobody may delete in append-only mode.
   */
  maintenance?: { username: string; credentialHash: string };
  /** Human access to the management routes (S12). */
  humans: HumanAccessPolicy;
  /** Hash of the bearer token the operator uses to read `/v1/report`. */
  reportTokenHash: string;
}

export interface SpaceAccess {
  namespace: string;
  name: string;
  /** metadata.uid of the BackupSpace; bound into wrapped keys and at-rest encryption as associated data. */
  uid: string;
  /** Hard limit on stored bytes (plaintext bytes as clients see them), all endpoints together. */
  quotaBytes: number;
  /** Endpoints may add but not delete or overwrite (ransomware protection). */
  appendOnly: boolean;
  /** Encrypt objects at rest with the space's data key (for storage that does not encrypt by itself). */
  encryptAtRest: boolean;
  keyCustody: ProviderKeyCustody | CustomerKeyCustody;
}

export interface ProviderKeyCustody {
  mode: 'provider';
  /** Identifier of the data key (not derived reversibly from it), to detect a key swap. */
  keyId: string;
}

/**
 * Customer custody: the data key exists only wrapped by a key derived from the customer's password.
 * The gateway starts sealed and serves no data until a tenant admin unseals it with that password.
 *
 * Without `keyId` and `record` the customer has not set the password yet: a tenant admin sets it at
 * the gateway (POST /v1/password), which makes the data key, wraps it and keeps the record on the
 * volume until the operator has stored it in the space's key Secret (customer-key-store.ts); the
 * record then comes back here with its `recordVersion`.
 */
export interface CustomerKeyCustody {
  mode: 'customer';
  keyId?: string;
  /** The wrapped key record produced by src/crypto (salt, KDF parameters, verifier, wrapped key). */
  record?: CustomerKeyRecord;
  /** How many times the customer set or changed the password through the gateway (0: set through a password Secret). */
  recordVersion?: number;
}

export interface CustomerKeyRecord {
  kdf: { name: 'scrypt'; cost: number; blockSize: number; parallelization: number; salt: string };
  /** base64; proves knowledge of the password without being usable to unwrap. */
  verifier: string;
  /** Versioned, base64url-encoded AES-256-GCM wrapping of the data key. */
  wrappedKey: string;
}

export interface EndpointAccess {
  /** Endpoint resource name; also the HTTP Basic user name. */
  name: string;
  /** Slow hash (src/crypto credential hash) of the endpoint's secret. */
  credentialHash: string;
  /** The endpoint's private repository path on the space, e.g. `endpoints/laptop-01`; no leading slash. */
  repository: string;
  /** False when the Endpoint is suspended or its tenant's contract is: access refused. */
  enabled: boolean;
  /**
   * The device's one-time enrolment (POST /v1/enrol), while its activation code is unused and
   * unexpired as far as the operator knows; the gateway records use on the volume (enrolment.ts).
   */
  enrolment?: EndpointEnrolment;
}

export interface EndpointEnrolment {
  /** The endpoint's credential sealed under its activation code (src/crypto/enrolment.ts). */
  seal: EnrolmentSeal;
  /** After this instant (RFC 3339) the code is refused. */
  expiresAt: string;
  /** The restic repository URL the device is given with its credential. */
  repositoryUrl: string;
}

export interface EnrolmentSeal {
  kdf: { name: 'scrypt'; cost: number; blockSize: number; parallelization: number; salt: string };
  /** AES-256-GCM wrapping (wrap.ts format) of the credential's bytes under the code-derived key. */
  wrappedCredential: string;
}

export type TwoFactorPolicy = 'two-factor' | 'one-factor' | 'disabled';

export interface HumanAccessPolicy {
  /** two-factor: password + TOTP; one-factor: password (TOTP checked if enrolled); disabled: no human routes. */
  policy: TwoFactorPolicy;
  users: HumanAccess[];
}

export interface HumanAccess {
  name: string;
  email: string;
  role: 'admin' | 'operator' | 'viewer';
  passwordHash: string;
  /** base32 RFC 6238 secret; present when the user is enrolled in 2FA. */
  totpSecret?: string;
}

/**
 * Secrets a space's gateway needs beside its key: the TLS certificate (issued by the operator's CA,
 * renewed before expiry), the maintenance credential that may prune an append-only space, the token
 * the operator reads the gateway's report with, and the rendered access configuration.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import type { BackupSpace } from '../../api/types.ts';
import { generateCredential, hashSecret } from '../../crypto/index.ts';
import type { GatewayAccessConfig } from '../../gateway/access-config.ts';
import { issueServingCertificate, type PemKeyPair } from '../../pki/certificates.ts';
import { isCertificateCurrent, readTlsSecret, TLS_SECRET_TYPE, tlsSecretData } from '../../pki/tls-secret.ts';
import type { ApplyObject } from '../../runtime/apply.ts';
import { CREDENTIAL_HASH_ANNOTATION, gatewayServiceHost, spaceObjectNames } from '../labels.ts';
import type { Secret } from './keys.ts';
import { base64 } from '../../runtime/kube/secrets.ts';
import { secretMetadata } from './desired.ts';

/** Names the gateway's certificate must carry: its Service inside the cluster, and its fixed address. */
export function gatewayCertificateNames(space: BackupSpace, address: string | undefined): { dnsNames: string[]; ipAddresses: string[] } {
  const service = spaceObjectNames(space.metadata.name ?? '').gateway;
  const namespace = space.metadata.namespace ?? '';
  return {
    dnsNames: [service, `${service}.${namespace}`, gatewayServiceHost(namespace, space.metadata.name ?? ''), `${service}.${namespace}.svc.cluster.local`],
    ipAddresses: address ? [address] : [],
  };
}

/** The TLS Secret to apply, or undefined when the current one is still good. */
export async function gatewayTlsSecret(space: BackupSpace, tenant: string, address: string | undefined, ca: PemKeyPair, current: Secret | undefined): Promise<ApplyObject | undefined> {
  const names = gatewayCertificateNames(space, address);
  if (isCertificateCurrent(readTlsSecret(current), ca.certificate, names)) return undefined;
  const issued = await issueServingCertificate(ca, { commonName: names.dnsNames[2] ?? space.metadata.name ?? 'gateway', ...names, validityDays: 365 });
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: secretMetadata(space, tenant, spaceObjectNames(space.metadata.name ?? '').tlsSecret, 'gateway-tls'),
    type: TLS_SECRET_TYPE,
    data: tlsSecretData({ ...issued, ca: ca.certificate }),
  };
}

/**
 * A credential with its slow hash beside it (annotation), so the hash need not be recomputed. The
 * operator's report token Secret also holds the key that signs people's sessions, the same on every
 * replica of the gateway.
 */
export async function credentialSecret(space: BackupSpace, tenant: string, name: string, type: 'maintenance-credentials' | 'report-token', username: string): Promise<ApplyObject> {
  const secret = type === 'report-token' ? randomBytes(32).toString('base64url') : generateCredential();
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { ...secretMetadata(space, tenant, name, type), annotations: { [CREDENTIAL_HASH_ANNOTATION]: await hashSecret(secret) } },
    type: 'Opaque',
    data: {
      username: base64(username),
      password: base64(secret),
      ...(type === 'report-token' ? { [SESSION_KEY]: base64(randomBytes(32).toString('base64')) } : {}),
    },
  };
}

/** File of the gateway's config directory with the key that signs sessions (base64 of 32 bytes). */
export const SESSION_KEY = 'session.key';

/** File of the gateway's config directory with the token its replicas authenticate each other with. */
export const PEER_TOKEN = 'peer.token';

/**
 * The space's peer token (src/gateway/peers.ts), derived from the operator's master key and the
 * space's uid (HKDF, its own label): the same on every reconcile and every replica without being
 * stored anywhere but the gateway config Secret, different for every space, and not invertible to
 * the master key.
 */
export function peerToken(masterKey: Buffer, spaceUid: string): string {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.from(spaceUid, 'utf8'), 'tenant-backup/gateway-peer-token/v1', 32)).toString('base64url');
}

/**
 * access.json, the session key and the replicas' peer token. Never the data key (hardening item 10):
 * a provider-custody gateway gets it from the operator's key service at start and keeps it in
 * memory; a customer-custody one is unsealed with the customer's password. A Secret written by an
 * older operator still has `data.key`: see withoutPlaintextKey.
 */
export function gatewayConfigSecret(space: BackupSpace, tenant: string, access: GatewayAccessConfig, sessionKey: string | undefined, peers?: string): ApplyObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: secretMetadata(space, tenant, spaceObjectNames(space.metadata.name ?? '').configSecret, 'gateway-config'),
    type: 'Opaque',
    data: {
      'access.json': base64(`${JSON.stringify(access, null, 2)}\n`),
      ...(sessionKey ? { [SESSION_KEY]: base64(sessionKey) } : {}),
      ...(peers ? { [PEER_TOKEN]: base64(peers) } : {}),
    },
  };
}

/** The file older operators put the plaintext data key in (the gateway config Secret's key). */
export const LEGACY_DATA_KEY = 'data.key';

/**
 * Whether a stored gateway config Secret still carries the plaintext data key an older operator put
 * there. The apply that drops it must be forced: the desired Secret, having no such key, is otherwise
 * "contained" in the stored one and never applied.
 */
export function holdsPlaintextKey(secret: Secret | undefined): boolean {
  return secret?.data?.[LEGACY_DATA_KEY] !== undefined;
}

/** Everything a request handler needs, assembled once by the server. */
import type { Logger } from '../log/logger.ts';
import type { AccessConfiguration } from './config.ts';
import type { CredentialCache } from './credential-cache.ts';
import type { KeyVault } from './key-vault.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { ObjectIndex } from './object-index.ts';
import type { AtRestKeys, ObjectStore } from './object-store.ts';
import type { SpaceQuota } from './quota.ts';
import type { GatewayCounters } from './report.ts';
import type { SessionSigner } from './sessions.ts';
import type { TotpReplayGuard } from './human-auth.ts';
import type { Peers } from './peers.ts';
import type { SignInThrottle } from './sign-in-throttle.ts';
import type { EnrolmentLedger } from './enrolment-ledger.ts';
import { effectiveAccess, type CustomerKeyStore } from './customer-key-store.ts';
import type { GatewayAccessConfig } from './access-config.ts';

export interface GatewayContext {
  /** The configuration in force now (it may be replaced between requests, never during one's checks). */
  config(): AccessConfiguration;
  index: ObjectIndex;
  store: ObjectStore;
  /** The space's quota account, shared with the other replicas through the volume. */
  quota: SpaceQuota;
  vault: KeyVault;
  credentials: CredentialCache;
  sessions: SessionSigner;
  totpReplay: TotpReplayGuard;
  signInThrottle: SignInThrottle;
  metrics: GatewayMetrics;
  counters: GatewayCounters;
  log: Logger;
  startedAt: Date;
  /** The other replicas of the space (unseal relay, replica states). */
  peers: Peers;
  /** The per-space peer token in force, or null when the config dir has none. */
  peerToken(): string | null;
  /** The CA that signs the space's gateway certificates (ca.crt), or null when the config dir has none. */
  caCert(): Buffer | null;
  /** Which activation codes were exchanged, on the volume (POST /v1/enrol). */
  enrolments: EnrolmentLedger;
  /** The customer's key record as set through the gateway, until the operator has stored it. */
  customerKeys: CustomerKeyStore;
  /** False while the data key is still to come from the operator's key service (/readyz says 503). */
  ready(): boolean;
}

/** Keys for at-rest encryption when a data key is loaded. */
export function atRestKeys(context: GatewayContext): AtRestKeys | null {
  const dataKey = context.vault.dataKey;
  return dataKey === null ? null : { dataKey, spaceUid: context.config().access.space.uid };
}

/**
 * The access configuration with the customer key record in force: the one the customer last set
 * through any replica (read again from the volume now), else the configuration's own.
 */
export async function accessInForce(context: GatewayContext): Promise<GatewayAccessConfig> {
  return effectiveAccess(context.config().access, await context.customerKeys.refresh());
}

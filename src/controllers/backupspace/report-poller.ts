/**
 * The gateway-report poller: a controller of its own that asks each space's serving gateway for its
 * report once per interval and stores it in the shared GatewayReports, whose subscribers (the space
 * and endpoint controllers) are told when a report has news. A gateway that takes its full timeout to
 * answer holds up only this poller's worker, never a space's reconcile.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import { API } from '../../api/refs.ts';
import type { BackupSpace } from '../../api/types.ts';
import type { PemKeyPair } from '../../pki/certificates.ts';
import { Controller, type ReconcileResult } from '../../runtime/controller.ts';
import { K8S } from '../../runtime/kube/resource-ref.ts';
import { secretField } from '../../runtime/kube/secrets.ts';
import { objectKey, type KubeObject } from '../../runtime/object.ts';
import type { ControllerContext } from '../context.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, SPACE_LABEL, spaceObjectNames } from '../labels.ts';
import type { Secret } from './keys.ts';
import { fetchReport, gatewayAddress, type GatewayReports } from './report.ts';

export interface ReportPollerOptions {
  reports: GatewayReports;
  /** The operator's CA: the gateways' certificates are checked against it. */
  certificateAuthority: () => Promise<PemKeyPair>;
  /** How often a serving gateway is asked for its report. */
  reportIntervalMs: number;
  /** `namespace/space` → `host:port`, for an operator outside the cluster. */
  gatewayAddresses: ReadonlyMap<string, string>;
  /** Milliseconds before an unanswered report request is abandoned. */
  timeoutMs?: number;
}

export function createReportPoller(ctx: ControllerContext, options: ReportPollerOptions, concurrency = 2): Controller {
  const managed = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
  const spaces = ctx.informers.for<BackupSpace>(API.BackupSpace);
  // The same caches the space controller reads (one informer per selector in the factory).
  const deployments = ctx.informers.for<KubeObject>(K8S.Deployment, { labelSelector: `${managed},${SPACE_LABEL}` });
  const secrets = ctx.informers.for<Secret>(K8S.Secret, { labelSelector: managed });
  // When each space was last asked: a rate limit, so that a burst of Deployment events is one poll.
  const asked = new Map<string, number>();

  const poll = async (key: string): Promise<ReconcileResult | undefined> => {
    const space = spaces.get(key);
    if (!space || space.metadata.deletionTimestamp) {
      asked.delete(key);
      options.reports.delete(key);
      return undefined;
    }
    const namespace = space.metadata.namespace ?? '';
    const names = spaceObjectNames(space.metadata.name ?? '');
    const gateway = deployments.get(`${namespace}/${names.gateway}`) as V1Deployment | undefined;
    const token = secretField(secrets.get(`${namespace}/${names.reportTokenSecret}`), 'password');
    // Nothing to ask yet: the Deployment's or the Secret's next event brings the space back.
    if ((gateway?.status?.readyReplicas ?? 0) === 0 || !token) return undefined;
    const now = Date.now();
    const last = asked.get(key);
    if (last !== undefined && now - last < options.reportIntervalMs - 1000) return { requeueAfterMs: options.reportIntervalMs - (now - last) };
    asked.set(key, now);
    try {
      const address = gatewayAddress(namespace, space.metadata.name ?? '', options.gatewayAddresses);
      options.reports.set(key, await fetchReport(address, token, (await options.certificateAuthority()).certificate, options.timeoutMs));
    } catch (error) {
      // The last report stays: a gateway restarting does not erase what it said.
      ctx.logger.debug({ space: key, err: error instanceof Error ? error.message : String(error) }, 'gateway report not available');
    }
    // Usage and last backups change without any event: ask again after the interval.
    return { requeueAfterMs: options.reportIntervalMs };
  };

  const controller = new Controller({ name: 'gateway-report', concurrency, logger: ctx.logger, metrics: ctx.metrics, reconcile: poll });
  const bySpaceLabel = (object: KubeObject) => {
    const space = object.metadata.labels?.[SPACE_LABEL];
    return space ? [`${object.metadata.namespace}/${space}`] : [];
  };
  controller.watch(spaces, (event) => [objectKey(event.object)]);
  controller.watch(deployments, (event) => bySpaceLabel(event.object));
  controller.watch(secrets, (event) => bySpaceLabel(event.object));
  return controller;
}

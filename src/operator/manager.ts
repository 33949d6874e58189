/**
 * Runs the operator: caches on every replica (a standby is warm), controllers only on the leader,
 * probes and metrics over TLS, a clean shutdown on SIGTERM (finish the reconciles in flight, release
 * the lease). Losing leadership ends the process so that it restarts as a clean candidate, as
 * controller-runtime does.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import { createDatacenterController } from '../controllers/datacenter/controller.ts';
import type { ControllerContext, OperatorSettings } from '../controllers/context.ts';
import { OPERATOR_NAME } from '../controllers/labels.ts';
import { createTenantController } from '../controllers/tenant/controller.ts';
import { createAccessController } from '../controllers/access/controller.ts';
import { createBackupSpaceController } from '../controllers/backupspace/controller.ts';
import { createEndpointController } from '../controllers/endpoint/controller.ts';
import { operatorCaProvider } from '../pki/operator-ca.ts';
import { GatewayReports } from '../controllers/backupspace/report.ts';
import { createReportPoller } from '../controllers/backupspace/report-poller.ts';
import { masterKeyProvider } from '../controllers/backupspace/keys.ts';
import { API } from '../api/refs.ts';
import type { Datacenter } from '../api/types.ts';
import { localExportRunner, type ExportRunner } from '../controllers/tenant/termination-runner.ts';
import { jobExportRunner } from '../controllers/tenant/termination-export-job.ts';
import { createCertificateAuthority, issueServingCertificate, type PemKeyPair } from '../pki/certificates.ts';
import type { Controller } from '../runtime/controller.ts';
import { EventRecorder } from '../runtime/events.ts';
import { InformerFactory } from '../runtime/informer-factory.ts';
import { KubeClient } from '../runtime/kube/client.ts';
import type { RateLimit } from '../runtime/kube/rate-limit.ts';
import { LeaderElector } from '../runtime/leader-election.ts';
import { createRuntimeMetrics } from '../runtime/metrics.ts';
import { informerFleetView, registerFleetMetrics } from './fleet-metrics.ts';
import { parseBindAddress } from '../runtime/listen-address.ts';
import { startProbeServer } from '../runtime/probe-server.ts';
import type { WebhookOptions } from '../webhook/options.ts';
import { startWebhook } from '../webhook/run.ts';
import { readFile } from 'node:fs/promises';

export interface OperatorOptions {
  kubeconfig?: string;
  /** Client-side limit on requests to the API server. */
  rateLimit?: RateLimit;
  namespace: string;
  leaderElect: boolean;
  leaderElectionId: string;
  leaseDurationMs: number;
  metricsAddress: string;
  probeAddress: string;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  concurrency: number;
  resyncMs: number;
  /** Image the gateways run: the operator's own, so that upgrading the operator rolls them (S3). */
  gatewayImage: string;
  /** Issuer shown in authenticator apps for the tenants' 2FA enrolments. */
  totpIssuer: string;
  /** How often each ready gateway is asked for its usage report. */
  reportIntervalMs: number;
  /** `namespace/space` → `host:port` of gateways, for an operator running outside the cluster. */
  gatewayAddresses: ReadonlyMap<string, string>;
  settings: OperatorSettings;
  /** The validating admission webhook, served on every replica; undefined disables it. */
  webhook?: WebhookOptions;
  /** Who runs termination exports: Jobs in the cluster, or this process over a host directory (tests). */
  exportRunner: { kind: 'job'; image: string } | { kind: 'local'; root: string };
  /** The provider's name in export bags (Source-Organization). */
  exportOrganization: string;
}

function exportRunnerOf(ctx: ControllerContext, options: OperatorOptions, certificateAuthority: () => Promise<PemKeyPair>): ExportRunner {
  if (options.exportRunner.kind === 'local') return localExportRunner({ client: ctx.client, root: options.exportRunner.root });
  return jobExportRunner({ client: ctx.client, image: options.exportRunner.image, operatorNamespace: options.namespace, datacenters: ctx.informers.for<Datacenter>(API.Datacenter), certificateAuthority });
}

async function servingTls(options: OperatorOptions): Promise<{ cert: string; key: string }> {
  if (options.tlsCertFile && options.tlsKeyFile) {
    return { cert: await readFile(options.tlsCertFile, 'utf8'), key: await readFile(options.tlsKeyFile, 'utf8') };
  }
  // No certificate given: a throwaway self-issued one (kubelet probes and Prometheus with
  // insecureSkipVerify accept it; supply --tls-cert-file for verified scraping).
  const ca = await createCertificateAuthority(`${OPERATOR_NAME}-probes`, 365);
  const issued = await issueServingCertificate(ca, { commonName: OPERATOR_NAME, dnsNames: ['localhost', hostname()], ipAddresses: ['127.0.0.1'] });
  return { cert: `${issued.certificate}${ca.certificate}`, key: issued.privateKey };
}

function buildControllers(ctx: ControllerContext, options: OperatorOptions): Controller[] {
  // The gateways' reports: the poller writes them, the space and endpoint controllers subscribe.
  const reports = new GatewayReports();
  const certificateAuthority = operatorCaProvider(ctx.client, options.namespace);
  return [
    createDatacenterController(ctx),
    createTenantController(ctx, { runner: exportRunnerOf(ctx, options, certificateAuthority), organization: options.exportOrganization }, options.concurrency),
    createAccessController(ctx, options.totpIssuer),
    createBackupSpaceController(ctx, {
      operatorNamespace: options.namespace,
      gatewayImage: options.gatewayImage,
      masterKey: masterKeyProvider(ctx.client, options.namespace),
      certificateAuthority,
      reports,
    }, options.concurrency),
    createReportPoller(ctx, { reports, certificateAuthority, reportIntervalMs: options.reportIntervalMs, gatewayAddresses: options.gatewayAddresses }, options.concurrency),
    createEndpointController(ctx, reports, options.concurrency),
  ];
}

export async function runOperator(options: OperatorOptions, logger: Logger): Promise<number> {
  const identity = `${hostname()}_${randomUUID().slice(0, 8)}`;
  const client = KubeClient.load(options.kubeconfig, { rateLimit: options.rateLimit });
  const metrics = createRuntimeMetrics();
  const stop = new AbortController();
  let fatal = false;
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      logger.info({ signal }, 'shutting down');
      stop.abort();
    });
  }

  const informers = new InformerFactory(client, logger, metrics, { resyncMs: options.resyncMs });
  const ctx: ControllerContext = {
    client,
    informers,
    recorder: new EventRecorder(client, { controller: `tenantbackup.io/${OPERATOR_NAME}`, instance: identity }, logger),
    logger,
    metrics,
    settings: options.settings,
    now: () => new Date(),
  };
  const controllers = buildControllers(ctx, options);
  registerFleetMetrics(metrics.registry, informerFleetView(informers));
  const webhook = startWebhook(ctx, options.webhook, options.namespace, stop.signal);

  const tls = await servingTls(options);
  const servers = [];
  const probe = parseBindAddress(options.probeAddress, '--health-probe-bind-address');
  const metricsAt = parseBindAddress(options.metricsAddress, '--metrics-bind-address');
  const sameAddress = probe && metricsAt && probe.host === metricsAt.host && probe.port === metricsAt.port;
  const serving = { tls, registry: metrics.registry, isAlive: () => !fatal, isReady: () => informers.allSynced() && webhook.ready() };
  if (probe) servers.push(await startProbeServer({ ...probe, ...serving, serveProbes: true, serveMetrics: Boolean(sameAddress) }));
  if (metricsAt && !sameAddress) servers.push(await startProbeServer({ ...metricsAt, ...serving, serveProbes: false, serveMetrics: true }));
  logger.info({ identity, server: client.serverUrl, probePort: servers[0]?.port, metricsPort: servers.at(-1)?.port, leaderElection: options.leaderElect }, 'operator starting');

  informers.start(stop.signal);
  const runControllers = (signal: AbortSignal) => Promise.all(controllers.map((c) => c.run(signal)));

  let exitCode = 0;
  if (options.leaderElect) {
    const elector = new LeaderElector(client, {
      namespace: options.namespace,
      name: options.leaderElectionId,
      identity,
      leaseDurationMs: options.leaseDurationMs,
      renewDeadlineMs: Math.round(options.leaseDurationMs * 2 / 3),
      retryPeriodMs: Math.max(500, Math.round(options.leaseDurationMs / 7.5)),
    }, logger, metrics);
    let running: Promise<unknown> = Promise.resolve();
    // On a stop, run() itself waits for the controllers before it releases the lease.
    const outcome = await elector.run(stop.signal, (leaderSignal) => (running = runControllers(leaderSignal)));
    await running;
    if (outcome === 'lost') {
      fatal = true;
      exitCode = 1;
    }
  } else {
    await runControllers(stop.signal);
  }
  stop.abort();
  for (const { server } of servers) server.close();
  await webhook.stop();
  client.close();
  logger.info({ exitCode }, 'operator stopped');
  return exitCode;
}

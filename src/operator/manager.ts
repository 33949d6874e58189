/**
 * Runs the operator: caches on every replica (a standby is warm), controllers only on the leader,
 * probes, metrics (authenticated) and the gateways' key service over TLS, a clean shutdown on SIGTERM (finish the reconciles in flight, release
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
import { createAuditController } from '../audit/controller.ts';
import { operatorCaProvider } from '../pki/operator-ca.ts';
import { GatewayReports } from '../controllers/backupspace/report.ts';
import { createReportPoller } from '../controllers/backupspace/report-poller.ts';
import { masterKeyProvider } from '../controllers/backupspace/keys.ts';
import { API } from '../api/refs.ts';
import type { Datacenter } from '../api/types.ts';
import type { GatewayWorkload } from '../api/gateway-workload.ts';
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
import type { KeyServiceLocation } from '../controllers/backupspace/desired.ts';
import type { MasterKey } from '../controllers/backupspace/keys-step.ts';
import { RequestAuthenticator } from '../runtime/kube/request-auth.ts';
import { startMetricsServer } from '../runtime/metrics-server.ts';
import { servingNames } from '../webhook/options.ts';
import { KEY_SERVICE_AUDIENCE, startKeyService } from './key-service.ts';
import { createReportsController } from '../reports/controller.ts';
import { createMeteringController } from '../metering/controller.ts';
import { registerUsageMetrics } from '../metering/metrics.ts';
import { smtpMailer, type SmtpSettings } from '../reports/mailer.ts';
import { getObject } from '../runtime/apply.ts';
import { secretField } from '../runtime/kube/secrets.ts';
import { K8S } from '../runtime/kube/resource-ref.ts';

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
  /** The gateways' key service (key-service.ts): where it listens, and how gateways reach it. */
  keyService: KeyServiceOptionsOf;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  concurrency: number;
  resyncMs: number;
  /** Image the gateways run: the operator's own, so that upgrading the operator rolls them (S3). */
  gatewayImage: string;
  /** Gateway pod settings of this installation (between the defaults and each Datacenter's). */
  gatewayWorkload?: GatewayWorkload;
  /** Issuer shown in authenticator apps for the tenants' 2FA enrolments. */
  totpIssuer: string;
  /** How often each ready gateway is asked for its usage report. */
  reportIntervalMs: number;
  /** How often every tenant's controls are audited into its PolicyReport (S17); 0 turns the audit off. */
  auditIntervalMs: number;
  /** How often every tenant's usage is sampled into its usage ledger (S10); 0 turns metering off. */
  meteringIntervalMs: number;
  /** `namespace/space` → `host:port` of gateways, for an operator running outside the cluster. */
  gatewayAddresses: ReadonlyMap<string, string>;
  settings: OperatorSettings;
  /** The validating admission webhook, served on every replica; undefined disables it. */
  webhook?: WebhookOptions;
  /** Who runs termination exports: Jobs in the cluster, or this process over a host directory (tests). */
  exportRunner: { kind: 'job'; image: string } | { kind: 'local'; root: string };
  /** The provider's name in export bags (Source-Organization). */
  exportOrganization: string;
  /** Periodic backup reports by e-mail (S4); undefined: no SMTP relay configured, no reports. */
  reports?: ReportsOptionsOf;
}

/** The reports' flags: the relay, its credentials Secret, and the reports' clock. */
export interface ReportsOptionsOf {
  smtp: SmtpSettings;
  /** Secret in the operator's namespace with keys username and password; absent: no SMTP AUTH. */
  credentialsSecret?: string;
  checkIntervalMs: number;
  /** Added to the wall clock by the reports controller only (tests: "the period has ended"). */
  clockOffsetMs: number;
}

/** The key service's flags: its bind address, its Service, and the URL gateways are given. */
export interface KeyServiceOptionsOf {
  bindAddress: string;
  /** Service in the operator's namespace fronting every replica's key service. */
  service: string;
  /** What the gateways are told instead of the Service's address (an operator outside the cluster). */
  url?: string;
}

/**
 * Where the gateways reach the key service, for their Deployment and NetworkPolicy: the port the
 * operator pods listen on (`boundPort` when the flag asked for any port, as tests do), the Service
 * of that port unless a URL is given.
 */
export function keyServiceLocation(options: KeyServiceOptionsOf, namespace: string, boundPort?: number): KeyServiceLocation {
  const bind = parseBindAddress(options.bindAddress, '--key-service-bind-address');
  if (!bind) throw new Error('--key-service-bind-address cannot be 0: provider-custody gateways get their data key only from the key service');
  const port = bind.port === 0 ? boundPort ?? 0 : bind.port;
  if (port < 1) throw new Error('--key-service-bind-address: the key service port is not known before it listens');
  return { url: options.url ?? `https://${options.service}.${namespace}.svc:${port}`, namespace, port };
}

function exportRunnerOf(ctx: ControllerContext, options: OperatorOptions, keys: { masterKey: () => Promise<MasterKey>; certificateAuthority: () => Promise<PemKeyPair> }, keyService: KeyServiceLocation): ExportRunner {
  if (options.exportRunner.kind === 'local') return localExportRunner({ client: ctx.client, root: options.exportRunner.root, masterKey: keys.masterKey });
  return jobExportRunner({ client: ctx.client, image: options.exportRunner.image, operatorNamespace: options.namespace, datacenters: ctx.informers.for<Datacenter>(API.Datacenter), certificateAuthority: keys.certificateAuthority, keyService });
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

function reportsController(ctx: ControllerContext, options: OperatorOptions, reports: GatewayReports, identity: string): Controller[] {
  const settings = options.reports;
  if (!settings) return [];
  const secretName = settings.credentialsSecret;
  // Read at each send: a rotated password is used from the next report on.
  const credentials = async () => {
    if (!secretName) return undefined;
    const secret = await getObject<{ data?: Record<string, string> }>(ctx.client, K8S.Secret, secretName, options.namespace);
    const username = secretField(secret, 'username');
    const password = secretField(secret, 'password');
    if (!username || !password) throw new Error(`SMTP credentials Secret ${options.namespace}/${secretName} needs keys username and password`);
    return { username, password };
  };
  return [createReportsController(ctx, {
    gatewayReports: reports,
    mailer: smtpMailer(settings.smtp, credentials),
    now: () => new Date(Date.now() + settings.clockOffsetMs),
    identity,
    checkIntervalMs: settings.checkIntervalMs,
    // Two polls of every gateway: after a restart the figures come from the gateways again.
    warmupMs: 2 * options.reportIntervalMs + 5000,
    messageDomain: settings.smtp.from.replace(/^.*@/, '').replace(/>.*$/, '') || 'localhost',
  })];
}

function buildControllers(ctx: ControllerContext, options: OperatorOptions, keys: { masterKey: () => Promise<MasterKey>; certificateAuthority: () => Promise<PemKeyPair> }, keyService: KeyServiceLocation, identity: string): Controller[] {
  // The gateways' reports: the poller writes them, the space and endpoint controllers subscribe.
  const reports = new GatewayReports();
  const { certificateAuthority, masterKey } = keys;
  return [
    createDatacenterController(ctx),
    createTenantController(ctx, { runner: exportRunnerOf(ctx, options, { masterKey, certificateAuthority }, keyService), organization: options.exportOrganization }, options.concurrency),
    createAccessController(ctx, options.totpIssuer),
    createBackupSpaceController(ctx, {
      operatorNamespace: options.namespace,
      gatewayImage: options.gatewayImage,
      gatewayWorkload: options.gatewayWorkload,
      keyService,
      masterKey,
      certificateAuthority,
      reports,
    }, options.concurrency),
    createReportPoller(ctx, { reports, certificateAuthority, reportIntervalMs: options.reportIntervalMs, gatewayAddresses: options.gatewayAddresses }, options.concurrency),
    createEndpointController(ctx, { reports, certificateAuthority }, options.concurrency),
    ...reportsController(ctx, options, reports, identity),
    ...(options.auditIntervalMs > 0 ? [createAuditController(ctx, { intervalMs: options.auditIntervalMs })] : []),
    ...meteringController(ctx, options),
  ];
}

function meteringController(ctx: ControllerContext, options: OperatorOptions): Controller[] {
  if (options.meteringIntervalMs <= 0) return [];
  const metering = createMeteringController(ctx, { namespace: options.namespace, intervalMs: options.meteringIntervalMs, now: () => new Date() });
  if (ctx.metrics) registerUsageMetrics(ctx.metrics.registry, metering.states);
  return [metering.controller];
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
  const keys = { masterKey: masterKeyProvider(client, options.namespace), certificateAuthority: operatorCaProvider(client, options.namespace) };
  registerFleetMetrics(metrics.registry, informerFleetView(informers));
  const webhook = startWebhook(ctx, options.webhook, options.namespace, stop.signal);

  const tls = await servingTls(options);
  const probe = parseBindAddress(options.probeAddress, '--health-probe-bind-address');
  const metricsAt = parseBindAddress(options.metricsAddress, '--metrics-bind-address');
  const keysAt = parseBindAddress(options.keyService.bindAddress, '--key-service-bind-address');
  if (probe && metricsAt && probe.host === metricsAt.host && probe.port === metricsAt.port && probe.port !== 0) {
    throw new Error('--metrics-bind-address and --health-probe-bind-address must differ: /metrics needs credentials, the probes do not');
  }
  const probeServer = probe ? await startProbeServer({ ...probe, tls, isAlive: () => !fatal, isReady: () => informers.allSynced() && webhook.ready() }) : undefined;
  // Metrics for the cluster's authenticated and authorized callers only (TokenReview + SubjectAccessReview).
  const metricsServer = metricsAt ? await startMetricsServer({ ...metricsAt, tls, registry: metrics.registry, auth: new RequestAuthenticator(client), logger }) : undefined;
  // Every replica hands keys to gateways, which reach any of them through the Service.
  const keyService = keysAt ? await startKeyService({
    ...keysAt,
    client,
    auth: new RequestAuthenticator(client, { audiences: [KEY_SERVICE_AUDIENCE] }),
    masterKey: keys.masterKey,
    certificateAuthority: keys.certificateAuthority,
    names: servingNames(options.keyService, options.namespace),
    logger: logger.child({ component: 'key-service' }),
  }) : undefined;
  const servers = [probeServer, metricsServer].filter((s) => s !== undefined);
  const controllers = buildControllers(ctx, options, keys, keyServiceLocation(options.keyService, options.namespace, keyService?.port), identity);
  logger.info({ identity, server: client.serverUrl, probePort: probeServer?.port, metricsPort: metricsServer?.port, keyServicePort: keyService?.port, leaderElection: options.leaderElect }, 'operator starting');

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
  await keyService?.close();
  await webhook.stop();
  client.close();
  logger.info({ exitCode }, 'operator stopped');
  return exitCode;
}

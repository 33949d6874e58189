import { Option, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { createLogger } from '../log/logger.ts';
import { addWebhookFlags, httpsBaseUrl, webhookOptions, type WebhookFlags } from '../webhook/options.ts';
import { runOperator, type OperatorOptions } from './manager.ts';
import { parseAddressOverrides } from '../controllers/backupspace/report.ts';
import { DEFAULT_RATE_LIMIT } from '../runtime/kube/rate-limit.ts';
import { cidrList } from './cidrs.ts';
import { parseImageReference } from './image-reference.ts';
import { parseGatewayWorkload } from './gateway-workload-flag.ts';
import type { GatewayWorkload } from '../api/gateway-workload.ts';
import type { ReportsOptionsOf } from './manager.ts';

interface SmtpFlags {
  smtpHost?: string; smtpPort: number; smtpTlsMode: string; smtpFrom?: string; smtpCredentialsSecret?: string; smtpCaFile?: string;
  reportCheckInterval: number; reportsClockOffset: number;
}

/** The reports' options from the SMTP flags; undefined (no reports) without --smtp-host. */
export function reportsOptions(flags: SmtpFlags): ReportsOptionsOf | undefined {
  if (!flags.smtpHost) return undefined;
  if (flags.smtpTlsMode !== 'starttls' && flags.smtpTlsMode !== 'implicit') throw new Error(`--smtp-tls-mode must be starttls or implicit, not '${flags.smtpTlsMode}'`);
  if (!flags.smtpFrom) throw new Error('--smtp-host needs --smtp-from, the address reports are sent from');
  return {
    smtp: {
      host: flags.smtpHost,
      port: flags.smtpPort,
      tlsMode: flags.smtpTlsMode,
      from: flags.smtpFrom,
      ...(flags.smtpCaFile ? { caPem: readFileSync(flags.smtpCaFile, 'utf8') } : {}),
    },
    ...(flags.smtpCredentialsSecret ? { credentialsSecret: flags.smtpCredentialsSecret } : {}),
    checkIntervalMs: flags.reportCheckInterval,
    clockOffsetMs: flags.reportsClockOffset,
  };
}

function list(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean);
}

function positiveInteger(name: string) {
  return (value: string): number => {
    const parsed = Number(value);
    if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`${name} must be a positive integer, not '${value}'`);
    return parsed;
  };
}

function duration(name: string) {
  return (value: string): number => {
    const match = /^(\d+)(ms|s|m|h)$/.exec(value);
    if (!match) throw new Error(`${name} must be a duration like 500ms, 15s, 10m or 1h, not '${value}'`);
    return Number(match[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[match[2] as 'ms' | 's' | 'm' | 'h'];
  };
}

export function registerOperatorCommand(program: Command): void {
  addWebhookFlags(program
    .command('operator')
    .description('Run the operator: reconcile Datacenters, Tenants, BackupSpaces and Endpoints.')
    .option('--kubeconfig <path>', 'kubeconfig file (default: $KUBECONFIG, then the in-cluster service account)')
    .option('--namespace <name>', 'namespace of the operator\'s own resources (lease, master key, CA)', process.env.POD_NAMESPACE ?? 'tenant-backup-system')
    .option('--no-leader-elect', 'run without leader election (only one replica may then run)')
    .option('--leader-election-id <name>', 'name of the Lease used for leader election', 'tenant-backup-operator')
    .option('--lease-duration <duration>', 'how long a leader\'s lease lasts without renewal', duration('--lease-duration'), 15_000)
    .option('--metrics-bind-address <address>', 'HTTPS address of /metrics; 0 disables', ':8443')
    .option('--health-probe-bind-address <address>', 'HTTPS address of /healthz and /readyz; 0 disables', ':8081')
    .option('--key-service-bind-address <address>', 'HTTPS address of the key service the provider-custody gateways get their data key from', ':9444')
    .option('--key-service-name <name>', 'Service (in --namespace) through which the gateways reach the key service', 'tenant-backup-keys')
    .option('--key-service-url <base>', 'base URL the gateways are given instead of the Service, e.g. https://127.0.0.1:9444 when the operator runs outside the cluster', httpsBaseUrl('--key-service-url'))
    .option('--tls-cert-file <path>', 'certificate for the metrics and probe endpoints (default: self-issued at start)')
    .option('--tls-key-file <path>', 'key of --tls-cert-file')
    .option('--kube-api-qps <n>', 'requests per second to the API server, sustained (client-side limit, as client-go\'s QPS)', positiveInteger('--kube-api-qps'), DEFAULT_RATE_LIMIT.qps)
    .option('--kube-api-burst <n>', 'requests to the API server allowed at once after a quiet period', positiveInteger('--kube-api-burst'), DEFAULT_RATE_LIMIT.burst)
    .option('--concurrency <n>', 'reconciles running at once per controller', positiveInteger('--concurrency'), 4)
    .option('--resync-period <duration>', 'how often every object is reconciled even without changes', duration('--resync-period'), 600_000)
    .option('--admin-namespaces <list>', 'provider admin namespaces that must never reach tenant workloads', list, ['kube-system', 'monitoring'])
    .option('--cluster-cidrs <list>', 'pod and service CIDRs of the cluster, IPv4 and IPv6, excluded from the internet client range of the tenants\' gateways', cidrList('--cluster-cidrs'), ['10.0.0.0/8', 'fd00::/8'])
    .option('--admin-cidrs <list>', 'the provider\'s admin networks (bastions, office, management VPN), IPv4 and IPv6, excluded from the internet client range of the tenants\' gateways', cidrList('--admin-cidrs'), [] as string[])
    .option('--user-prefix <prefix>', 'prefix of Kubernetes user names of tenant people (their email follows)', '')
    .option('--gateway-image <image>', 'image the space gateways run (the operator\'s own image; pin it as repository@sha256:<digest>); a space whose upgrade policy is Manual keeps the image its Deployment runs until approved', process.env.GATEWAY_IMAGE ?? 'ghcr.io/tenant-backup/tenant-backup-operator:0.1.0')
    .option('--gateway-workload <json>', 'resources, priorityClassName, tolerations, podLabels, podAnnotations and topologySpreadConstraints of the gateway pods, as JSON in the shape of a Datacenter\'s spec.gateway (which overrides it per datacenter); unset: built-in defaults', parseGatewayWorkload('--gateway-workload'))
    .option('--totp-issuer <name>', 'issuer name shown in authenticator apps', 'Cloud Backup')
    .option('--report-interval <duration>', 'how often each ready gateway is asked for its usage report', duration('--report-interval'), 30_000)
    .option('--audit-interval <duration>', 'how often every tenant\'s controls are checked into its PolicyReport (S17); 0s turns the audit off', duration('--audit-interval'), 300_000)
    .option('--metering-interval <duration>', 'how often every tenant\'s usage is sampled into its usage ledger (S10; ConfigMaps usage-<tenant>-<YYYY-MM> in --namespace); 0s turns metering off', duration('--metering-interval'), 60_000)
    .option('--gateway-address <namespace/space=host:port>', 'reach a space\'s gateway at this address instead of its Service (for an operator running outside the cluster); repeatable', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--export-runner <kind>', 'who runs termination exports: job (a Job pinned to the space\'s datacenter) or local (this process, over --export-local-root; for clusters whose volumes the operator sees as host directories, e.g. the test harness)', 'job')
    .option('--export-local-root <dir>', 'with --export-runner=local: spaces\' volumes are <dir>/spaces/<namespace>/<space>, claim targets <dir>/claims/<namespace>/<claim>')
    .option('--export-image <image>', 'image of the export Jobs (default: --gateway-image, the operator\'s own)')
    .option('--export-organization <name>', 'the provider\'s name in export bags (Source-Organization)', 'Cloud Backup provider')
    .option('--smtp-host <host>', 'SMTP relay the periodic backup reports are sent through (S4); unset: no reports')
    .option('--smtp-port <port>', 'port of the SMTP relay', positiveInteger('--smtp-port'), 587)
    .option('--smtp-tls-mode <mode>', 'starttls (STARTTLS required, usually port 587) or implicit (TLS from the first byte, usually 465); TLS 1.2 or later either way, never plaintext', 'starttls')
    .option('--smtp-from <address>', 'From address of the reports, e.g. "Cloud Backup <backup@provider.example>"')
    .option('--smtp-credentials-secret <name>', 'Secret in --namespace with keys username and password for SMTP AUTH; unset: no AUTH')
    .option('--smtp-ca-file <path>', 'PEM bundle of the CAs that sign the relay\'s certificate (default: the system\'s)')
    .option('--report-check-interval <duration>', 'longest time between two checks of whether a tenant\'s report is due', duration('--report-check-interval'), 600_000)
    .addOption(new Option('--reports-clock-offset <duration>', 'for tests only: the reports controller\'s clock runs this far ahead of the wall clock').argParser(duration('--reports-clock-offset')).default(0).hideHelp())
    .option('--log-level <level>', 'trace, debug, info, warn or error', process.env.LOG_LEVEL ?? 'info'))
    .action(async (flags: {
      kubeconfig?: string; namespace: string; leaderElect: boolean; leaderElectionId: string; leaseDuration: number;
      metricsBindAddress: string; healthProbeBindAddress: string; tlsCertFile?: string; tlsKeyFile?: string;
      keyServiceBindAddress: string; keyServiceName: string; keyServiceUrl?: string;
      kubeApiQps: number; kubeApiBurst: number; concurrency: number; resyncPeriod: number; adminNamespaces: string[]; clusterCidrs: string[]; adminCidrs: string[]; userPrefix: string; logLevel: string;
      gatewayImage: string; gatewayWorkload?: GatewayWorkload; totpIssuer: string; reportInterval: number; auditInterval: number; meteringInterval: number; gatewayAddress: string[];
      exportRunner: string; exportLocalRoot?: string; exportImage?: string; exportOrganization: string;
    } & WebhookFlags & SmtpFlags) => {
      if (Boolean(flags.tlsCertFile) !== Boolean(flags.tlsKeyFile)) throw new Error('--tls-cert-file and --tls-key-file go together');
      if (flags.exportRunner !== 'job' && flags.exportRunner !== 'local') throw new Error(`--export-runner must be job or local, not '${flags.exportRunner}'`);
      if (flags.exportRunner === 'local' && !flags.exportLocalRoot) throw new Error('--export-runner=local needs --export-local-root <dir>');
      // Checked here, not by commander: a default (from $GATEWAY_IMAGE) never goes through an option parser.
      parseImageReference(flags.gatewayImage, '--gateway-image');
      if (flags.exportImage !== undefined) parseImageReference(flags.exportImage, '--export-image');
      const logger = createLogger({ name: 'operator', level: flags.logLevel });
      const options: OperatorOptions = {
        kubeconfig: flags.kubeconfig,
        rateLimit: { qps: flags.kubeApiQps, burst: flags.kubeApiBurst },
        namespace: flags.namespace,
        leaderElect: flags.leaderElect,
        leaderElectionId: flags.leaderElectionId,
        leaseDurationMs: flags.leaseDuration,
        metricsAddress: flags.metricsBindAddress,
        probeAddress: flags.healthProbeBindAddress,
        keyService: { bindAddress: flags.keyServiceBindAddress, service: flags.keyServiceName, ...(flags.keyServiceUrl ? { url: flags.keyServiceUrl } : {}) },
        tlsCertFile: flags.tlsCertFile,
        tlsKeyFile: flags.tlsKeyFile,
        concurrency: flags.concurrency,
        resyncMs: flags.resyncPeriod,
        gatewayImage: flags.gatewayImage,
        gatewayWorkload: flags.gatewayWorkload,
        totpIssuer: flags.totpIssuer,
        reportIntervalMs: flags.reportInterval,
        auditIntervalMs: flags.auditInterval,
        meteringIntervalMs: flags.meteringInterval,
        gatewayAddresses: parseAddressOverrides(flags.gatewayAddress),
        settings: {
          operatorNamespace: flags.namespace,
          adminNamespaces: flags.adminNamespaces,
          clusterCidrs: flags.clusterCidrs,
          adminCidrs: flags.adminCidrs,
          userPrefix: flags.userPrefix,
        },
        webhook: webhookOptions(flags),
        exportRunner: flags.exportRunner === 'local' ? { kind: 'local', root: flags.exportLocalRoot ?? '' } : { kind: 'job', image: flags.exportImage ?? flags.gatewayImage },
        exportOrganization: flags.exportOrganization,
        reports: reportsOptions(flags),
      };
      process.exitCode = await runOperator(options, logger);
      logger.flush();
    });
}

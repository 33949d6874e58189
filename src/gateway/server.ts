/**
 * The gateway of one backup space: an HTTPS server (TLS 1.2+ only, S2) that routes each request to
 * the restic REST protocol, the human routes, the operator's report, metrics or probes (URL layout in
 * paths.ts), and owns the pieces they share: configuration in force, object index, quota, keys.
 */
import { createServer, type Server } from 'node:https';
import { join } from 'node:path';
import { serverTlsOptions } from '../pki/tls-policy.ts';
import { SignInThrottle } from './sign-in-throttle.ts';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import type { Logger } from '../log/logger.ts';
import { GATEWAY_RESERVED_PATH_SEGMENTS } from './access-config.ts';
import { ConfigWatcher } from './config-watcher.ts';
import { decodeKeyFile, decodePeerToken, parseAccessConfig, readConfigFiles, digestOf, DATA_KEY_FILE, SESSION_KEY_FILE, type AccessConfiguration, type ConfigFiles } from './config.ts';
import type { GatewayContext } from './context.ts';
import { CredentialCache, VerifierBusyError } from './credential-cache.ts';
import { TotpReplayGuard } from './human-auth.ts';
import { handleHumanRequest, isHumanRoute } from './human-routes.ts';
import { HttpError, bearerToken, sendError, sendJson, sendText } from './http-util.ts';
import { keyIdOf } from '../crypto/index.ts';
import { fetchDataKeyUntilDone, type KeyServiceClientOptions } from './key-client.ts';
import { KeyVault } from './key-vault.ts';
import { GatewayMetrics, type RouteLabel } from './metrics.ts';
import { ObjectIndex } from './object-index.ts';
import { ObjectStore, TEMPORARY_MAX_AGE_MS } from './object-store.ts';
import { parseDataRoute, parseRequestTarget } from './paths.ts';
import { Peers, peerServerName, type PeerCredentials, type PeerOutcome, type PeerSource } from './peers.ts';
import { handlePeerRequest, isPeerRoute } from './peers-routes.ts';
import { GATEWAY_STATE_DIR, SpaceQuota, isVolumeFull, type QuotaTiming } from './quota.ts';
import { GatewayCounters, buildReport } from './report.ts';
import { handleDataRequest, routeLabel } from './restic-routes.ts';
import { SessionSigner } from './sessions.ts';
import { ENROL_PATH, handleEnrol } from './enrol-route.ts';
import { EnrolmentLedger } from './enrolment-ledger.ts';
import { adopted, CUSTOMER_KEY_DIR, CustomerKeyStore, effectiveAccess } from './customer-key-store.ts';

export interface GatewayOptions {
  configDir: string;
  dataDir: string;
  host: string;
  port: number;
  log: Logger;
  /** How often the configuration directory is checked for changes. */
  reloadIntervalMs?: number;
  /** How often the index and the space's shared quota ledger are reconciled with the disk. */
  rescanIntervalMs?: number;
  /** Timing of the shared quota ledger (tests). */
  quotaTiming?: Partial<QuotaTiming>;
  /** How long shutdown waits for requests in flight before cutting connections. */
  shutdownGraceMs?: number;
  /** The other replicas of the space (--peers / --peers-dns); none by default. */
  peers?: PeerSource;
  /**
   * Where a provider-custody gateway gets its data key (--key-service-url, --key-token-file). Without
   * it the key is read from data.key in the configuration directory (outside a cluster: tests,
   * development); the operator never writes that file.
   */
  keyService?: KeyServiceClientOptions;
  /** Pauses between tries at the key service (tests). */
  keyServiceTiming?: { baseMs: number; maxMs: number };
}

/** TLS settings of every gateway: the project's one server policy (S2). */
export function tlsOptions(files: Pick<ConfigFiles, 'tlsCert' | 'tlsKey'>): SecureContextOptions {
  return serverTlsOptions({ cert: files.tlsCert, key: files.tlsKey });
}

interface LoadedFiles {
  config: AccessConfiguration;
  providerKey: Buffer | null;
  sessionKey: Buffer | null;
  peerToken: string | null;
  caCert: Buffer | null;
}

/** Parses and checks every file; throws without side effects when anything is wrong. */
function loadFiles(files: ConfigFiles): LoadedFiles {
  const config = parseAccessConfig(files.accessText);
  const providerKey = config.access.space.keyCustody.mode === 'provider' && files.dataKeyText !== null ? decodeKeyFile(files.dataKeyText, DATA_KEY_FILE) : null;
  const sessionKey = files.sessionKeyText === null ? null : decodeKeyFile(files.sessionKeyText, SESSION_KEY_FILE);
  const peerToken = files.peerTokenText === null ? null : decodePeerToken(files.peerTokenText);
  return { config, providerKey, sessionKey, peerToken, caCert: files.caCert };
}

export class Gateway {
  readonly #server: Server;
  readonly #context: GatewayContext;
  readonly #watcher: ConfigWatcher;
  readonly #shutdownGraceMs: number;
  readonly #stopRescans: () => void;

  private constructor(server: Server, context: GatewayContext, watcher: ConfigWatcher, shutdownGraceMs: number, stopRescans: () => void) {
    this.#server = server;
    this.#context = context;
    this.#watcher = watcher;
    this.#shutdownGraceMs = shutdownGraceMs;
    this.#stopRescans = stopRescans;
  }

  /** False while a provider-custody gateway still waits for its key from the key service. */
  get ready(): boolean {
    return this.#context.ready();
  }

  /** Reads the configuration, scans the data directory and starts serving. Throws when the configuration is unusable. */
  static async start(options: GatewayOptions): Promise<Gateway> {
    const { log } = options;
    const files = await readConfigFiles(options.configDir);
    const loaded = loadFiles(files);
    for (const warning of loaded.config.warnings) log.warn({ warning }, 'access configuration warning');
    let config = loaded.config;
    let peerToken = loaded.peerToken;
    let caCert = loaded.caCert;

    const index = new ObjectIndex();
    // One quota account for the space, shared by every replica through the volume (quota.ts).
    let serving = false;
    let rescanSoon: NodeJS.Timeout | null = null;
    const quota = new SpaceQuota({
      directory: join(options.dataDir, GATEWAY_STATE_DIR),
      limitBytes: () => config.access.space.quotaBytes,
      log,
      seedUsedBytes: () => index.totalBytes,
      timing: options.quotaTiming,
      onReconcileNeeded: (reason) => {
        if (!serving || rescanSoon !== null) return;
        log.info({ reason }, 'reconciling the quota ledger with the data directory soon');
        rescanSoon = setTimeout(() => {
          rescanSoon = null;
          rescan().catch((error: unknown) => log.error({ err: error }, 'rescan of the data directory failed'));
        }, 1000);
        rescanSoon.unref();
      },
    });
    await quota.open();
    const store = new ObjectStore(options.dataDir, index, quota);
    // The rescan rebuilds this replica's index and reconciles the shared ledger with the same walk.
    let rescanning: Promise<{ removedTemporary: number; reconciled: boolean }> | null = null;
    const rescan = (): Promise<{ removedTemporary: number; reconciled: boolean }> => {
      rescanning ??= (async () => {
        const ticket = await quota.beginReconcile();
        let scanned: Awaited<ReturnType<ObjectStore['scan']>> | undefined;
        try {
          await index.rebuild(async () => (scanned = await store.scan({ removeTemporaryOlderThanMs: TEMPORARY_MAX_AGE_MS })));
        } catch (error) {
          await quota.abandonReconcile(ticket).catch(() => undefined);
          throw error;
        }
        const reconciled = await quota.finishReconcile(ticket, scanned as NonNullable<typeof scanned>);
        return { removedTemporary: scanned?.removedTemporary ?? 0, reconciled };
      })().finally(() => {
        rescanning = null;
      });
      return rescanning;
    };
    let scanned: { removedTemporary: number; reconciled: boolean };
    try {
      scanned = await rescan();
      await quota.refresh();
    } catch (error) {
      await quota.close();
      throw error;
    }
    log.info(
      { usedBytes: quota.usedBytes, reservedBytes: quota.reservedBytes, replicas: quota.replicas, objects: index.totalObjects, removedTemporary: scanned.removedTemporary, reconciled: scanned.reconciled },
      'data directory scanned',
    );

    const customerKeys = new CustomerKeyStore(join(options.dataDir, GATEWAY_STATE_DIR, CUSTOMER_KEY_DIR), quota.owner);
    await customerKeys.refresh().catch((error: unknown) => log.error({ err: error }, 'the customer key record on the volume is unreadable; ignoring it'));
    const vault = new KeyVault();
    // Under provider custody with a key service, the key is asked for in the background: until it
    // comes, the gateway serves (the probes, the unseal route's 503s) but says it is not ready.
    let fetchedKey: Buffer | null = null;
    let keyWanted = false;
    const keyFetch = new AbortController();
    const providerKeyOf = (files: LoadedFiles): Buffer | null => files.providerKey ?? fetchedKey;
    const fetchKey = (): void => {
      const keyService = options.keyService;
      if (keyWanted || !keyService || config.access.space.keyCustody.mode !== 'provider') return;
      keyWanted = true;
      // Read at each attempt: a reload may change the key id (or, rarely, the custody: then no key id
      // matches and the fetch keeps waiting for a configuration that wants one).
      const space = () => ({ namespace: config.access.space.namespace, name: config.access.space.name, keyId: config.access.space.keyCustody.keyId ?? '' });
      void fetchDataKeyUntilDone(keyService, space, () => caCert, log, keyFetch.signal, options.keyServiceTiming).then((key) => {
        keyWanted = false;
        if (!key) return;
        fetchedKey = key;
        vault.configure(effectiveAccess(config.access, customerKeys.staged), fetchedKey);
      });
    };
    vault.configure(effectiveAccess(config.access, customerKeys.staged), providerKeyOf(loaded));
    if (loaded.providerKey === null) fetchKey();
    // Once the operator stored a record set here in the key Secret, no copy stays on the volume (customer-key-store.ts).
    const forgetAdopted = (): void => {
      customerKeys.forgetIfAdopted(config.access).then(
        (removed) => { if (removed) log.info('the customer key record is in the key Secret now; removed its copy from the volume'); },
        (error: unknown) => log.error({ err: error }, 'could not remove the adopted customer key record from the volume'),
      );
    };
    forgetAdopted();
    const metrics = new GatewayMetrics();
    // Learnt once listening (port 0 in tests): peers on our own port and address are ourselves.
    let selfPort = options.port;
    const peers = new Peers({
      source: options.peers ?? { kind: 'none' },
      self: () => ({ host: options.host, port: selfPort }),
      credentials: (): PeerCredentials => ({ token: peerToken, ca: caCert, serverName: peerServerName(config.access.space.namespace, config.access.space.name) }),
    });
    const context: GatewayContext = {
      config: () => config,
      index,
      store,
      quota,
      vault,
      credentials: new CredentialCache(),
      sessions: new SessionSigner(loaded.sessionKey ?? undefined),
      totpReplay: new TotpReplayGuard(),
      signInThrottle: new SignInThrottle(),
      metrics,
      counters: new GatewayCounters(),
      log,
      startedAt: new Date(),
      peers,
      peerToken: () => peerToken,
      caCert: () => caCert,
      enrolments: new EnrolmentLedger(join(options.dataDir, GATEWAY_STATE_DIR, 'enrolments')),
      customerKeys,
      ready: () => !(options.keyService && config.access.space.keyCustody.mode === 'provider' && vault.dataKey === null && config.access.space.encryptAtRest),
    };
    const peerProblem = peers.problem();
    if (peerProblem !== null) log.warn({ warning: peerProblem }, 'unseal relay disabled');

    const server = createServer(tlsOptions(files), (req, res) => void handleRequest(context, req, res));
    // Large packs over slow links: no limit on a whole request, only on silence.
    server.requestTimeout = 0;
    server.headersTimeout = 60_000;
    server.timeout = 180_000;
    // Longer than the idle timeout of Go's HTTP client (90 s), so restic never reuses a connection we just closed.
    server.keepAliveTimeout = 120_000;
    server.on('tlsClientError', (error) => log.debug({ err: error }, 'TLS handshake failed'));

    const watcher = new ConfigWatcher({
      configDir: options.configDir,
      intervalMs: options.reloadIntervalMs ?? 2000,
      initialDigest: digestOf(files),
      log,
      onResult: (result) => metrics.countConfigReload(result),
      apply: (next) => {
        const reloaded = loadFiles(next);
        server.setSecureContext(tlsOptions(next));
        config = reloaded.config;
        peerToken = reloaded.peerToken;
        caCert = reloaded.caCert;
        context.credentials.clear();
        // A fetched key for another key id (the space's key changed) is dropped and asked for again.
        if (fetchedKey !== null && config.access.space.keyCustody.mode === 'provider' && keyIdOf(fetchedKey) !== config.access.space.keyCustody.keyId) fetchedKey = null;
        vault.configure(effectiveAccess(config.access, customerKeys.staged), providerKeyOf(reloaded));
        forgetAdopted();
        if (reloaded.providerKey === null && fetchedKey === null) fetchKey();
        if (reloaded.sessionKey !== null) context.sessions.setKey(reloaded.sessionKey);
        for (const warning of config.warnings) log.warn({ warning }, 'access configuration warning');
      },
    });
    watcher.start();

    const rescanTimer = setInterval(() => {
      rescan().catch((error: unknown) => log.error({ err: error }, 'rescan of the data directory failed'));
    }, options.rescanIntervalMs ?? 10 * 60_000);
    rescanTimer.unref();
    serving = true;

    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(options.port, options.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      keyFetch.abort();
      watcher.stop();
      clearInterval(rescanTimer);
      await quota.close();
      throw error;
    }
    selfPort = (server.address() as AddressInfo).port;
    const stopRescans = (): void => {
      keyFetch.abort();
      serving = false;
      clearInterval(rescanTimer);
      if (rescanSoon !== null) clearTimeout(rescanSoon);
      rescanSoon = null;
    };
    const gateway = new Gateway(server, context, watcher, options.shutdownGraceMs ?? 25_000, stopRescans);
    const address = gateway.address();
    log.info(
      { address: address.address, port: address.port, space: `${config.access.space.namespace}/${config.access.space.name}`, endpoints: config.endpoints.size, dataKeyState: vault.state },
      'gateway listening',
    );
    return gateway;
  }

  address(): AddressInfo {
    return this.#server.address() as AddressInfo;
  }

  get context(): GatewayContext {
    return this.#context;
  }

  /** Re-reads the configuration directory now (tests; the watcher does this periodically). */
  reloadNow(): Promise<string> {
    return this.#watcher.poll();
  }

  /** Stops accepting connections, lets requests in flight finish (up to the grace period), then closes. */
  async stop(): Promise<void> {
    this.#watcher.stop();
    this.#stopRescans();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    const grace = setTimeout(() => this.#server.closeAllConnections(), this.#shutdownGraceMs);
    grace.unref();
    await closed;
    clearTimeout(grace);
    // After the last request: leave the shared quota account (nothing of ours is in flight any more).
    await this.#context.quota.close();
  }
}

function authRealm(label: RouteLabel): 'endpoint' | 'human' | 'report' | 'peer' {
  if (label === 'human') return 'human';
  if (label === 'enrol') return 'endpoint';
  if (label === 'peer') return 'peer';
  if (label === 'report' || label === 'metrics') return 'report';
  return 'endpoint';
}

async function handleRequest(context: GatewayContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  context.counters.requests += 1;
  const method = req.method ?? 'GET';
  let label: RouteLabel = 'unknown';
  res.once('finish', () => context.metrics.countRequest(label, method, res.statusCode));
  try {
    const target = parseRequestTarget(req.url);
    if (target === null) throw new HttpError(400, 'malformed request path');
    const { path, query } = target;
    if (path === '/healthz' || (path === '/readyz' && context.ready())) {
      label = 'probe';
      // Ready even when sealed: the unseal route must stay reachable through the Service.
      sendJson(res, 200, { status: 'ok', dataKeyState: context.vault.state });
    } else if (path === '/readyz') {
      label = 'probe';
      // Alive (no restart) but not ready: the data key is still to come from the operator.
      sendJson(res, 503, { status: 'waiting for the data key from the operator', dataKeyState: context.vault.state });
    } else if (path === '/metrics') {
      label = 'metrics';
      await serveMetrics(context, req, res);
    } else if (path === '/v1/report') {
      label = 'report';
      await serveReport(context, req, res);
    } else if (path === ENROL_PATH) {
      label = 'enrol';
      await handleEnrol(context, req, res);
    } else if (isPeerRoute(path)) {
      label = 'peer';
      await handlePeerRequest(context, req, res, path);
    } else if (isHumanRoute(path)) {
      label = 'human';
      await handleHumanRequest(context, req, res, path);
    } else {
      const route = GATEWAY_RESERVED_PATH_SEGMENTS.includes(path.split('/')[1] ?? '') ? null : parseDataRoute(path);
      if (route === null) throw new HttpError(404, 'not found');
      label = routeLabel(route);
      await handleDataRequest(context, req, res, route, query);
    }
  } catch (error) {
    if (error instanceof HttpError) {
      if (error.status === 401) {
        context.counters.authFailures += 1;
        context.metrics.countAuthFailure(authRealm(label));
        context.log.warn({ route: label, method, remote: req.socket.remoteAddress }, 'authentication failed');
      }
      sendError(res, error);
      return;
    }
    if (isVolumeFull(error)) {
      context.log.error({ route: label, method, code: (error as NodeJS.ErrnoException).code }, 'request refused: the space volume is full');
      sendText(res, 507, 'insufficient storage: the volume is full');
      return;
    }
    if (error instanceof VerifierBusyError) {
      context.log.warn({ route: label, method, remote: req.socket.remoteAddress }, 'credential checks saturated; request turned away');
      sendText(res, 503, error.message, { 'Retry-After': '5' });
      return;
    }
    context.log.error({ err: error, route: label, method }, 'request failed');
    sendText(res, 500, 'internal error');
  }
}

/**
 * The operator's report token, required by the report and by /metrics alike: both tell who backs up
 * what and when (per-endpoint series are a device list), on an address that may face the internet.
 */
async function requireReportToken(context: GatewayContext, req: IncomingMessage): Promise<void> {
  const token = bearerToken(req);
  const ok = token !== null && (await context.credentials.check('report', 'operator', token, context.config().access.reportTokenHash));
  if (!ok) throw new HttpError(401, 'a valid report token is required', { 'WWW-Authenticate': 'Bearer realm="tenant-backup-report"' });
}

/** Reads the shared quota ledger, so that the figures reported include every replica's latest writes. */
async function freshUsage(context: GatewayContext): Promise<void> {
  await context.quota.refresh().catch((error: unknown) => context.log.warn({ err: error }, 'quota ledger not read; reporting its last known figures'));
}

async function serveMetrics(context: GatewayContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  await requireReportToken(context, req);
  await freshUsage(context);
  context.metrics.update(reportOf(context));
  const { contentType, body } = await context.metrics.render();
  res.writeHead(200, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  res.end(body);
}

async function serveReport(context: GatewayContext, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET') throw new HttpError(405, 'method not allowed', { Allow: 'GET' });
  await requireReportToken(context, req);
  await freshUsage(context);
  // A record the customer set here that the operator has not stored yet: it stores it in the key Secret.
  const staged = await context.customerKeys.refresh().catch(() => context.customerKeys.staged);
  const pending = staged !== null && !adopted(context.config().access, staged) ? { customerKey: staged } : {};
  sendJson(res, 200, { ...reportOf(context, context.peers.enabled ? await context.peers.states() : undefined), ...pending });
}

function reportOf(context: GatewayContext, peers?: PeerOutcome[]) {
  return buildReport({ config: context.config(), index: context.index, usedBytes: context.quota.usedBytes, dataKeyState: context.vault.state, counters: context.counters, startedAt: context.startedAt, peers });
}

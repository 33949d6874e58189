/**
 * Backup reports by e-mail (issue 13 item 1, S4) on the real control plane, delivered to a real SMTP
 * server (smtp-server) that this suite runs over STARTTLS with a certificate from the project's PKI,
 * with SMTP AUTH against the credentials Secret. The operator's reports clock runs a day ahead
 * (--reports-clock-offset), so today's Daily period has ended for it: each tenant gets its report
 * for today, with the right figures, in its language: an endpoint that backed up with the real
 * restic client through a real gateway (in this process, on the operator's rendered configuration,
 * its data key from the operator's key service) and then had a backup refused for quota (507), one
 * that did not back up (overdue), one not checked; an operator restart sends no second e-mail for
 * the same period; the stored copy is readable by the tenant's viewer and not by another tenant's.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1ConfigMap, V1Secret } from '@kubernetes/client-node';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API } from '../../src/api/refs.ts';
import type { BackupSpace, Endpoint } from '../../src/api/types.ts';
import { fetchReport, humanBytes } from '../../src/controllers/backupspace/report.ts';
import type { GatewayReport } from '../../src/gateway/report-contract.ts';
import { Gateway } from '../../src/gateway/server.ts';
import { createLogger } from '../../src/log/logger.ts';
import { secretField } from '../../src/runtime/kube/secrets.ts';
import { freePort } from '../harness/ports.ts';
import { run } from '../support/run.ts';
import { gatewayKeyToken } from '../support/tokens.ts';
import { createCertificateAuthority, issueServingCertificate } from '../../src/pki/certificates.ts';
import { REPORT_LABEL } from '../../src/reports/record.ts';
import { KubeClient } from '../../src/runtime/kube/client.ts';
import { collectionPath, K8S } from '../../src/runtime/kube/resource-ref.ts';
import { createEndpoint, createReadyTenant, createSpace, ensureDatacenters, readObject, removeTenant, waitForCondition } from '../support/cluster-objects.ts';
import { installCrds } from '../support/crds.ts';
import { clients, eventually, sleep, uniqueName } from '../support/kube.ts';
import { loopbackKeyServiceArgs, OperatorProcess } from '../support/operator.ts';

const { kubeconfigPath } = clients();
const client = KubeClient.load(kubeconfigPath);
const operatorNamespace = uniqueName('tb-system');
const acme = uniqueName('acme');
const beta = uniqueName('beta');
const SMTP_USER = 'reports@provider.example';
const SMTP_PASSWORD = 'smtp-relay-secret-4f9c2a';

interface Delivered { mail: ParsedMail; envelopeTo: string[]; secure: boolean; user: string | undefined }
const delivered: Delivered[] = [];
let smtp: SMTPServer;
let smtpPort = 0;
let caFile = '';
let operator: OperatorProcess | undefined;
let keyPort = 0;
let gatewayPort = 0;
let gateway: Gateway | undefined;
/** What the gateway itself says of the space after the backups: the figures the e-mail must show. */
let gatewayReport: GatewayReport;
const SPACE_QUOTA = 6 * 1024 * 1024;

async function startSmtp(): Promise<void> {
  const ca = await createCertificateAuthority('reports-test-smtp-ca', 1);
  const served = await issueServingCertificate(ca, { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1'] });
  caFile = join(await mkdtemp(join(tmpdir(), 'smtp-ca-')), 'ca.crt');
  await writeFile(caFile, ca.certificate);
  smtp = new SMTPServer({
    secure: false,
    key: served.privateKey,
    cert: `${served.certificate}${ca.certificate}`,
    minVersion: 'TLSv1.2',
    authMethods: ['PLAIN', 'LOGIN'],
    // AUTH only inside TLS (smtp-server refuses it in plaintext unless allowInsecureAuth).
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD) callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      simpleParser(stream).then((mail) => {
        delivered.push({ mail, envelopeTo: session.envelope.rcptTo.map((r) => r.address), secure: session.secure, user: session.user as string | undefined });
        callback();
      }, callback);
    },
    logger: false,
  });
  await new Promise<void>((listening) => smtp.listen(0, '127.0.0.1', listening));
  smtpPort = (smtp.server.address() as { port: number }).port;
}

const baseFlags = () => [
  '--namespace', operatorNamespace, '--gateway-image', 'registry.invalid/tenant-backup-operator:test',
  ...loopbackKeyServiceArgs(keyPort), '--report-interval', '1s', '--gateway-address', `tenant-${acme}/vault=127.0.0.1:${gatewayPort}`,
];
const reportFlags = () => [
  ...baseFlags(),
  '--smtp-host', 'localhost', '--smtp-port', String(smtpPort), '--smtp-tls-mode', 'starttls', '--smtp-ca-file', caFile,
  '--smtp-from', 'Cloud Backup <backup@provider.example>', '--smtp-credentials-secret', 'smtp-relay',
  '--report-check-interval', '2s', '--reports-clock-offset', '24h',
];

async function reportRecords(namespace: string): Promise<V1ConfigMap[]> {
  return (await client.request<{ items: V1ConfigMap[] }>({ method: 'GET', path: collectionPath(K8S.ConfigMap, namespace), query: { labelSelector: REPORT_LABEL } })).items;
}

async function allowed(user: string, namespace: string, name: string): Promise<boolean> {
  const review = await client.request<{ status: { allowed: boolean } }>({
    method: 'POST',
    path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user, resourceAttributes: { namespace, verb: 'get', resource: 'configmaps', name } } },
  });
  return review.status.allowed;
}

const secretOf = async (namespace: string, name: string) => eventually(`Secret ${name}`, () => readObject<V1Secret>(client, K8S.Secret, name, namespace));

/**
 * A space whose gateway runs here on what the operator rendered, an endpoint `server` on it, a real
 * restic backup that fits and a second one refused for quota.
 */
async function backUpWithRestic(): Promise<void> {
  const namespace = `tenant-${acme}`;
  await createSpace(client, 'vault', namespace, { size: '6Mi', datacenter: 'it-mil1', replicas: 1 });
  await createEndpoint(client, 'server', namespace, 'vault', { hostname: 'srv-01.acme.lan' });
  await waitForCondition<BackupSpace>(client, API.BackupSpace, 'vault', namespace, 'Ready', 'True', undefined, 90_000);
  await eventually('the endpoint in the rendered configuration', async () => (secretField(await secretOf(namespace, 'vault-gateway-config'), 'access.json')?.includes('"server"') ? true : undefined));
  const work = await mkdtemp(join(tmpdir(), 'reports-gateway-'));
  const configDir = join(work, 'config');
  const dataDir = join(work, 'data');
  await mkdir(configDir);
  await mkdir(dataDir);
  for (const name of ['vault-gateway-config', 'vault-gateway-tls']) {
    const secret = await secretOf(namespace, name);
    for (const file of Object.keys(secret.data ?? {})) await writeFile(join(configDir, file), secretField(secret, file) ?? '');
  }
  const tokenFile = join(configDir, 'token');
  await writeFile(tokenFile, await gatewayKeyToken(client, namespace, 'vault'));
  gateway = await Gateway.start({ configDir, dataDir, host: '127.0.0.1', port: gatewayPort, log: createLogger({ name: 'gateway', level: 'warn' }), keyService: { url: `https://127.0.0.1:${keyPort}`, tokenFile } });
  const caPem = secretField(await secretOf(namespace, 'vault-gateway-tls'), 'ca.crt') ?? '';
  const address = { host: '127.0.0.1', port: gatewayPort, servername: `vault-gateway.${namespace}.svc` };
  const reportToken = secretField(await secretOf(namespace, 'vault-report-token'), 'password') ?? '';
  await eventually('the gateway to have its data key', async () => ((await fetchReport(address, reportToken, caPem).catch(() => undefined))?.gateway.dataKeyState === 'ready' ? true : undefined), { timeoutMs: 30_000 });

  const credentials = await secretOf(namespace, 'endpoint-server-credentials');
  const url = `rest:https://server:${encodeURIComponent(secretField(credentials, 'password') ?? '')}@127.0.0.1:${gatewayPort}/server/`;
  // The certificate names the gateway's Service, which restic cannot be told to expect; the gateway's
  // TLS is not what this test is about (gateway-security and operator-gateway tests are).
  const restic = (...args: string[]) => run('restic', ['--repo', url, '--insecure-tls', '--cache-dir', join(work, 'cache'), ...args], { env: { ...process.env, RESTIC_PASSWORD: 'device-password' }, timeoutMs: 120_000 });
  for (const [dir, bytes] of [['small', 1024 * 1024], ['big', 2 * SPACE_QUOTA]] as const) {
    await mkdir(join(work, dir));
    await writeFile(join(work, dir, 'data.bin'), randomBytes(bytes));
  }
  const init = await restic('init');
  expect(init.code, init.stderr).toBe(0);
  const small = await restic('backup', join(work, 'small'));
  expect(small.code, small.stderr).toBe(0);
  const big = await restic('backup', join(work, 'big'));
  expect(big.code, 'the second backup does not fit').not.toBe(0);
  expect(big.stderr).toMatch(/507/);
  gatewayReport = await fetchReport(address, reportToken, caPem);
}

beforeAll(async () => {
  await installCrds(client);
  await ensureDatacenters(client);
  await startSmtp();
  await client.request({ method: 'POST', path: collectionPath(K8S.Namespace), body: { metadata: { name: operatorNamespace } } });
  await client.request({ method: 'POST', path: collectionPath(K8S.Secret, operatorNamespace), body: { metadata: { name: 'smtp-relay' }, stringData: { username: SMTP_USER, password: SMTP_PASSWORD } } });
  // First an operator without a relay: the tenants become Ready and the device overdue before any
  // report could be composed.
  keyPort = await freePort();
  gatewayPort = await freePort();
  const plain = await OperatorProcess.start(kubeconfigPath, baseFlags());
  try {
    await createReadyTenant(client, acme, {
      displayName: 'Acme <Italia> S.p.A.',
      contacts: [{ name: 'Anna', email: 'anna@acme.example' }, { name: 'Bruno', email: 'bruno@acme.example', role: 'billing' }],
      reports: { period: 'Daily', language: 'en' },
      users: [{ name: 'vera', email: 'vera@acme.example', role: 'viewer' }],
    });
    await createReadyTenant(client, beta, {
      contacts: [{ name: 'Carla', email: 'carla@beta.example' }],
      reports: { period: 'Daily' },
      users: [{ name: 'otto', email: 'otto@beta.example', role: 'viewer' }],
    });
    // No such space: the endpoints never back up. desk expects a backup every second, idle nothing.
    await createEndpoint(client, 'desk', `tenant-${acme}`, 'nowhere', { expectedBackupInterval: '1s', hostname: 'desk-01.acme.lan' });
    await createEndpoint(client, 'idle', `tenant-${acme}`, 'nowhere');
    await waitForCondition<Endpoint>(client, API.Endpoint, 'desk', `tenant-${acme}`, 'BackupOverdue', 'True', 'BackupOverdue', 30_000);
    await backUpWithRestic();
  } finally {
    await plain.stop();
  }
}, 180_000);

afterAll(async () => {
  await operator?.stop();
  await gateway?.stop();
  for (const name of [acme, beta]) await removeTenant(client, name);
  await new Promise<void>((closed) => smtp.close(() => closed()));
});

describe('backup reports', () => {
  it('e-mails each tenant its report for the ended period over STARTTLS, in its language, with the figures', async () => {
    operator = await OperatorProcess.start(kubeconfigPath, reportFlags());
    const mailTo = (address: string) => delivered.find((d) => d.envelopeTo.includes(address));
    const toAcme = await eventually('the report of acme at the SMTP server', async () => mailTo('anna@acme.example'), { timeoutMs: 60_000 });
    const toBeta = await eventually('the report of beta at the SMTP server', async () => mailTo('carla@beta.example'), { timeoutMs: 30_000 });
    const period = new Date(Date.now()).toISOString().slice(0, 10);

    expect(toAcme.secure, 'delivered inside TLS').toBe(true);
    expect(toAcme.user).toBe(SMTP_USER);
    expect(toAcme.envelopeTo.sort()).toEqual(['anna@acme.example', 'bruno@acme.example']);
    expect(toAcme.mail.from?.text).toBe('"Cloud Backup" <backup@provider.example>');
    expect(toAcme.mail.subject).toBe(`Backup report Acme <Italia> S.p.A. — ${period}`);
    const text = toAcme.mail.text ?? '';
    expect(text).toContain(`from ${period} to ${period} (UTC)`);
    expect(text).toContain('- desk (desk-01.acme.lan) — space nowhere — OVERDUE');
    expect(text).toContain('Last backup: never');
    expect(text).toContain('Snapshots: 0 in the period (0 in all)');
    expect(text).toContain('- idle — space nowhere\n');
    expect(text).toContain('Devices with no backup within their expected interval:\n- desk\n\n');
    const server = gatewayReport.endpoints.find((e) => e.name === 'server');
    expect(server?.snapshots).toBe(1);
    expect(server?.byKind.full.bytes).toBeGreaterThanOrEqual(1024 * 1024);
    expect(server?.quotaRefusals).toBeGreaterThanOrEqual(1);
    expect(text).toContain('- server (srv-01.acme.lan) — space vault\n');
    expect(text).toContain(`Last backup: ${String(server?.lastBackupAt).replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC')}`);
    expect(text).toContain('Snapshots: 1 in the period (1 in all)');
    expect(text).toContain(`Data added in the period: full ${humanBytes(server?.byKind.full.bytes ?? -1)}, incremental ${humanBytes(server?.byKind.incremental.bytes ?? -1)}, metadata ${humanBytes(server?.byKind.metadata.bytes ?? -1)}`);
    // The endpoint's own lines (the space's section has a refusal count too).
    const serverBlock = text.split('\n- ').find((block) => block.startsWith('server ')) ?? '';
    expect(serverBlock).toContain(`Writes refused, quota exhausted (507): ${server?.quotaRefusals}\n`);
    expect(text).toContain(`- vault: ${humanBytes(gatewayReport.space.usedBytes)} used / 6.0Mi quota (${Math.round((gatewayReport.space.usedBytes / SPACE_QUOTA) * 100)}%)`);
    expect(text).toContain(`Storage used: ${humanBytes(gatewayReport.space.usedBytes)} used / 100Gi quota (0%)`);
    const html = typeof toAcme.mail.html === 'string' ? toAcme.mail.html : '';
    expect(html).toContain('Acme &lt;Italia&gt; S.p.A.');
    expect(html).not.toContain('Acme <Italia>');
    expect(toAcme.mail.messageId).toMatch(new RegExp(`^<backup-report-${period}\\.[0-9a-f-]+@provider\\.example>$`));

    expect(toBeta.mail.subject).toContain(`Report backup`);
    expect(toBeta.mail.text).toContain('Nessun dispositivo.');

    // The record: sent, with the message id, and the copy people read.
    const [record] = await eventually('the sent record of acme', async () => {
      const items = await reportRecords(`tenant-${acme}`);
      return items.length === 1 && items[0]?.data?.state === 'sent' ? items : undefined;
    });
    expect(record?.metadata?.name).toBe(`backup-report-${period}`);
    expect(record?.data).toMatchObject({ state: 'sent', attempts: '1', messageId: toAcme.mail.messageId, subject: toAcme.mail.subject, 'report.txt': text });
    expect(record?.data?.['report.html']).toContain('Acme &lt;Italia&gt; S.p.A.');
    // No credential anywhere the operator writes or logs.
    expect(JSON.stringify(record)).not.toContain(SMTP_PASSWORD);
    expect(await operator.logText()).not.toContain(SMTP_PASSWORD);
  }, 120_000);

  it('sends no second e-mail for the same period after an operator restart', async () => {
    const before = delivered.length;
    await operator?.stop();
    operator = await OperatorProcess.start(kubeconfigPath, reportFlags());
    // The restarted operator has looked at both tenants (and found their periods sent) several times.
    await eventually('the restarted reports controller to reconcile', async () => ((await operator?.metric('controller_runtime_reconcile_total', { controller: 'reports' })) ?? 0) >= 4 ? true : undefined, { timeoutMs: 30_000 });
    await sleep(3000);
    expect(delivered.length).toBe(before);
    expect(await operator?.logText()).not.toContain('sending backup report');
    expect((await reportRecords(`tenant-${acme}`)).map((c) => c.data?.attempts)).toEqual(['1']);
  }, 90_000);

  it('lets the tenant\'s viewer read the stored copy, and not another tenant\'s viewer', async () => {
    const [record] = await reportRecords(`tenant-${acme}`);
    const name = record?.metadata?.name ?? '';
    await eventually('vera to be able to read the report', async () => ((await allowed('vera@acme.example', `tenant-${acme}`, name)) ? true : undefined));
    expect(await allowed('otto@beta.example', `tenant-${acme}`, name)).toBe(false);
    const [betaRecord] = await reportRecords(`tenant-${beta}`);
    expect(await allowed('otto@beta.example', `tenant-${beta}`, betaRecord?.metadata?.name ?? '')).toBe(true);
    expect(await allowed('vera@acme.example', `tenant-${beta}`, betaRecord?.metadata?.name ?? '')).toBe(false);
  }, 60_000);
});

/** The gateway benchmark's operator configuration (bench/operator-gateway.ts): what it renders is what a pod mounts and runs. */
import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { configurationsFromEnv, gatewayTable, type ConfigurationResult, type GatewayBenchResult } from '../../bench/gateway.ts';
import { renderOperatorGateway } from '../../bench/operator-gateway.ts';
import { CONFIG_DIR, IMAGE_ENTRY_POINT } from '../../src/controllers/backupspace/desired.ts';
import { DEFAULT_SCRYPT_PARAMS, parseSecretHash, verifySecret } from '../../src/crypto/index.ts';
import { GATEWAY_NODE_FLAGS } from '../../src/gateway/command.ts';
import { parseAccessConfig } from '../../src/gateway/config.ts';
import { keyFromAnswer } from '../../src/gateway/key-client.ts';
import { createCertificateAuthority } from '../../src/pki/certificates.ts';

describe('the gateway benchmark\'s operator configuration', () => {
  it('renders the files a provider-custody pod mounts, production hashes, the key from the key service and the Deployment\'s command', async () => {
    const ca = await createCertificateAuthority('test-ca');
    const rendered = await renderOperatorGateway(ca, 'https://127.0.0.1:9444', 64 * 1024 ** 3);
    // No data.key: the key comes from the key service, as in a cluster.
    expect([...rendered.files.keys()].sort()).toEqual(['access.json', 'ca.crt', 'peer.token', 'session.key', 'tls.crt', 'tls.key']);

    const config = parseAccessConfig(rendered.files.get('access.json')?.toString('utf8') ?? '');
    const space = config.access.space;
    expect(space).toMatchObject({ encryptAtRest: true, quotaBytes: 64 * 1024 ** 3, keyCustody: { mode: 'provider' } });
    const endpoint = config.endpoints.get(rendered.endpoint);
    expect(endpoint?.enabled).toBe(true);
    expect(parseSecretHash(endpoint?.credentialHash ?? '').params).toEqual(DEFAULT_SCRYPT_PARAMS);
    expect(await verifySecret(rendered.credential, endpoint?.credentialHash ?? '')).toBe(true);
    expect(config.access.maintenance).toBeDefined();
    expect(config.users.size).toBe(1);

    const certificate = new X509Certificate(rendered.files.get('tls.crt') ?? '');
    expect(certificate.verify(new X509Certificate(rendered.caCertificate).publicKey)).toBe(true);
    expect(certificate.checkIP('127.0.0.1')).toBe('127.0.0.1');

    expect(rendered.container.command).toEqual(['node', ...GATEWAY_NODE_FLAGS, IMAGE_ENTRY_POINT]);
    const args = rendered.container.args;
    expect(args.slice(0, 3)).toEqual(['gateway', '--config-dir', CONFIG_DIR]);
    expect(args[args.indexOf('--key-service-url') + 1]).toBe('https://127.0.0.1:9444');
    expect(keyFromAnswer(rendered.keyAnswer(), space.keyCustody.keyId ?? '').length).toBe(32);
  }, 60_000);
});

describe('the gateway benchmark\'s report', () => {
  it('runs both configurations unless told which, and refuses names it does not know', () => {
    expect(configurationsFromEnv(undefined)).toEqual(['fixture', 'operator']);
    expect(configurationsFromEnv('operator')).toEqual(['operator']);
    expect(() => configurationsFromEnv('operator,pod')).toThrow(/unknown pod/);
  });

  it('puts the configurations side by side with the goals', () => {
    const configuration = (ratio: number, cpu: number, idle: number): ConfigurationResult => ({
      secondsByRound: [6, 7], seconds: 6, ratio, MiBps: 170, gatewayCpuSecondsPerGiB: cpu, gatewayCpuSecondsPerGiBByRound: [cpu, cpu + 1], resticCpuSecondsPerGiB: 8,
      memory: { smallPeakRssMiB: 120, largePeakRssMiB: 130, smallMedianRssMiB: 100, largeMedianRssMiB: 110, idleRssMiB: idle, openedRssMiB: idle + 1, peakGrowthMiB: 10 },
    });
    const result: GatewayBenchResult = {
      benchmark: 'gateway', date: '', largeBytes: 1024 ** 3, smallBytes: 256 * 1024 ** 2, rounds: 2, goalRatio: 1.3,
      environment: { node: 'v24', restic: 'restic 0.14.0', cpus: 2, cpuModel: 'EPYC', gatewayNodeFlags: [], loadAverageAtStart: [0.5, 0.5, 0.5], profiled: false, operatorEntryPoint: '' },
      localSecondsByRound: [5, 5.5], localSeconds: 5, localMiBps: 204.8, localResticCpuSecondsPerGiB: 8,
      configurations: { fixture: configuration(1.28, 2.78, 107.4), operator: configuration(1.25, 2.7, 78.3) },
    };
    const lines = gatewayTable(result).split('\n');
    expect(lines.find((l) => l.includes('ratio gateway/local'))).toMatch(/1\.280\s+1\.250\s+≤ 1\.3$/);
    expect(lines.find((l) => l.includes('idle RSS'))).toMatch(/107\.4\s+78\.3\s+≤ 100$/);
    expect(lines.find((l) => l.includes('gateway CPU-s/GiB'))).toMatch(/2\.78\s+2\.70\s+≤ 3$/);
    expect(lines.some((l) => /fixture\s+operator\s+goal/.test(l))).toBe(true);
  });
});

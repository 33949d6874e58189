/**
 * Gateway throughput and memory benchmark (not a test).
 *
 * restic backs up the same generated, incompressible data into a local directory repository and
 * through the gateway (HTTPS with TLS, at-rest encryption on) whose data directory is on the same
 * disk. The figure of merit is the ratio of wall times (gateway / local; goal ≤ 1.3). The gateway
 * runs as its own process; its CPU and resident memory (idle, and peak VmHWM from /proc) are
 * recorded for a small and a large data set, to show memory stays flat as the data grows.
 *
 * Two configurations of the gateway, side by side in one run:
 *   fixture   the e2e test fixture's (test/e2e/gateway-fixture.ts): openssl certificate, data.key,
 *             the gateway subcommand alone (TypeScript run directly)
 *   operator  as the operator configures it (operator-gateway.ts): every mounted file rendered by the
 *             operator's own functions, the key from a key service, and the Deployment's container
 *             command on the image's compiled entry point (built first, under .bench/dist)
 *
 * Environment:
 *   BENCH_GATEWAY_BYTES        large data set (default 1 GiB)
 *   BENCH_GATEWAY_SMALL_BYTES  small data set for the memory comparison (default 256 MiB)
 *   BENCH_GATEWAY_ROUNDS       interleaved rounds; the fastest of each counts (default 3)
 *   BENCH_GATEWAY_CONFIGS      which configurations, comma-separated (default fixture,operator)
 *   BENCH_GATEWAY_PROFILE      1: every gateway runs with --cpu-prof into .bench/profiles/<config>/
 *                              (slows it a little: profile runs, not figures)
 *   BENCH_GATEWAY_ENTRY        the compiled entry point to run the operator configuration on
 *                              (default: this checkout, built first), e.g. another revision's build
 *   BENCH_DIR                  where to put data and repositories (default: os.tmpdir())
 * Writes .bench/gateway.json and .bench/gateway.txt (the table).
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { GATEWAY_NODE_FLAGS } from '../src/gateway/command.ts';
import { GatewayFixture, expectSuccess, run, type RunResult } from '../test/e2e/gateway-fixture.ts';
import { buildImageEntryPoint, startOperatorGateway } from './operator-gateway.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
const FILE_BYTES = 64 * MiB;
const RESTIC_PASSWORD = 'client-side-repository-password';

export function sizeFromEnv(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const match = /^(\d+(?:\.\d+)?)\s*([KMG]i?B?)?$/i.exec(text.trim());
  if (match === null) throw new Error(`${name} must be a size such as 1073741824, 256MiB or 1GiB`);
  const unit = (match[2] ?? '').toUpperCase()[0];
  const factor = unit === 'G' ? GiB : unit === 'M' ? MiB : unit === 'K' ? 1024 : 1;
  return Math.round(Number(match[1]) * factor);
}

/** Incompressible bytes, fast: AES-CTR keystream (restic's compression cannot shrink it). */
export async function generateData(dir: string, totalBytes: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const zeros = Buffer.alloc(MiB);
  for (let index = 0, remaining = totalBytes; remaining > 0; index++, remaining -= FILE_BYTES) {
    const bytes = Math.min(FILE_BYTES, remaining);
    const cipher = createCipheriv('aes-128-ctr', randomBytes(16), randomBytes(16));
    async function* keystream(): AsyncGenerator<Buffer> {
      for (let left = bytes; left > 0; left -= MiB) yield cipher.update(left >= MiB ? zeros : zeros.subarray(0, left));
    }
    await pipeline(Readable.from(keystream()), createWriteStream(join(dir, `part-${String(index).padStart(4, '0')}.bin`)));
  }
  // Read it once so that both backups find it in the page cache.
  await run('sh', ['-c', `cat '${dir}'/* > /dev/null`]);
}

export async function timed<T>(work: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = process.hrtime.bigint();
  const value = await work();
  return { seconds: Number(process.hrtime.bigint() - start) / 1e9, value };
}

/** CPU seconds (user + system) a process has used, from /proc/<pid>/stat. */
async function cpuSecondsOf(pid: number): Promise<number> {
  const fields = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/**
 * CPU seconds used by this process's children that have exited and been waited for (cutime +
 * cstime): around one restic run, that restic's CPU (the gateway, still running, is not counted).
 */
export async function childCpuSeconds(): Promise<number> {
  const fields = (await readFile('/proc/self/stat', 'utf8')).split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[13]) + Number(fields[14])) / 100;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Peak and current resident memory of a process, in KiB, from /proc/<pid>/status. */
async function memoryOf(pid: number): Promise<{ hwmKiB: number; rssKiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { hwmKiB: field('VmHWM'), rssKiB: field('VmRSS') };
}

interface LocalRun {
  seconds: number;
  resticCpuSeconds: number;
}

async function localBackup(dir: string, source: string): Promise<LocalRun> {
  const repository = join(dir, 'local-repo');
  const env = { ...process.env, RESTIC_PASSWORD };
  const common = ['--repo', repository, '--cache-dir', join(dir, 'cache-local')];
  expectSuccess(await run('restic', [...common, 'init'], { env }), 'local restic init');
  const cpuBefore = await childCpuSeconds();
  const { seconds, value } = await timed(() => run('restic', [...common, 'backup', '--quiet', source], { env, timeoutMs: 3_600_000 }));
  const resticCpuSeconds = (await childCpuSeconds()) - cpuBefore;
  expectSuccess(value, 'local restic backup');
  await rm(repository, { recursive: true, force: true });
  return { seconds, resticCpuSeconds };
}

export const CONFIGURATIONS = ['fixture', 'operator'] as const;
export type Configuration = (typeof CONFIGURATIONS)[number];

/** A running gateway, whichever way it was configured, and how restic reaches it. */
interface StartedGateway {
  pid: number;
  url: string;
  caCertFile: string;
  dir: string;
  close(): Promise<void>;
}

async function startGateway(configuration: Configuration, baseDir: string, entryPoint: string, nodeArgs: string[]): Promise<StartedGateway> {
  if (configuration === 'operator') {
    const gateway = await startOperatorGateway({ baseDir, quotaBytes: 64 * GiB, entryPoint, nodeArgs });
    return { pid: gateway.pid, url: gateway.repositoryUrl, caCertFile: gateway.caCertFile, dir: gateway.dir, close: () => gateway.close() };
  }
  const fixture = await GatewayFixture.start({ endpoints: [{ name: 'bench' }], encryptAtRest: true, quotaBytes: 64 * GiB, baseDir, nodeArgs });
  return { pid: fixture.pid, url: fixture.repositoryUrl('bench'), caCertFile: fixture.caCert, dir: fixture.dir, close: () => fixture.close() };
}

function resticThrough(gateway: StartedGateway, args: string[]): Promise<RunResult> {
  return run('restic', ['--repo', gateway.url, '--cacert', gateway.caCertFile, '--cache-dir', join(gateway.dir, 'restic-cache'), ...args], {
    env: { ...process.env, RESTIC_PASSWORD },
    timeoutMs: 3_600_000,
  });
}

interface GatewayRun {
  seconds: number;
  /** CPU the gateway process used during the backup. */
  gatewayCpuSeconds: number;
  /** CPU restic used for the same backup. */
  resticCpuSeconds: number;
  peakRssMiB: number;
  medianRssMiB: number;
  /** RSS once started and ready, before any request. */
  idleRssMiB: number;
  /** RSS after `restic init`, just before the backup. */
  startRssMiB: number;
}

async function gatewayBackup(configuration: Configuration, source: string, baseDir: string, entryPoint: string, nodeArgs: string[]): Promise<GatewayRun> {
  const gateway = await startGateway(configuration, baseDir, entryPoint, nodeArgs);
  try {
    // Settled: the startup's garbage is collected by now, as in a pod that waits for its first client.
    await new Promise((done) => setTimeout(done, 1000));
    const idle = await memoryOf(gateway.pid);
    expectSuccess(await resticThrough(gateway, ['init']), `${configuration} gateway: restic init`);
    const start = await memoryOf(gateway.pid);
    const cpuBefore = await cpuSecondsOf(gateway.pid);
    const resticCpuBefore = await childCpuSeconds();
    const samples: number[] = [];
    const sampler = setInterval(() => {
      memoryOf(gateway.pid).then((m) => samples.push(m.rssKiB), () => undefined);
    }, 100);
    const { seconds, value } = await timed(() => resticThrough(gateway, ['backup', '--quiet', source]));
    clearInterval(sampler);
    expectSuccess(value, `${configuration} gateway: restic backup`);
    const gatewayCpuSeconds = (await cpuSecondsOf(gateway.pid)) - cpuBefore;
    const resticCpuSeconds = (await childCpuSeconds()) - resticCpuBefore;
    const end = await memoryOf(gateway.pid);
    return {
      seconds,
      gatewayCpuSeconds,
      resticCpuSeconds,
      peakRssMiB: Math.max(end.hwmKiB, ...samples) / 1024,
      medianRssMiB: median(samples) / 1024,
      idleRssMiB: idle.rssKiB / 1024,
      startRssMiB: start.rssKiB / 1024,
    };
  } finally {
    await gateway.close();
  }
}

export interface ConfigurationResult {
  /** Wall times of every large round, seconds, and the fastest (the least disturbed by whatever else runs). */
  secondsByRound: number[];
  seconds: number;
  /** Fastest gateway round / fastest local round. */
  ratio: number;
  MiBps: number;
  /** CPU seconds the gateway process spent per GiB uploaded (fastest large round). */
  gatewayCpuSecondsPerGiB: number;
  /** The same in every large round: on a shared machine the least of them is the least disturbed. */
  gatewayCpuSecondsPerGiBByRound: number[];
  /** CPU seconds restic spent per GiB through this gateway (fastest large round). */
  resticCpuSecondsPerGiB: number;
  memory: {
    /** Highest VmHWM over the rounds at each size. */
    smallPeakRssMiB: number;
    largePeakRssMiB: number;
    /** Median of RSS samples taken every 100 ms during the backups. */
    smallMedianRssMiB: number;
    largeMedianRssMiB: number;
    /** Median over the rounds: started and ready, before any request. */
    idleRssMiB: number;
    /** Median over the rounds: after `restic init` (a repository opened), before the backup. */
    openedRssMiB: number;
    peakGrowthMiB: number;
  };
}

export interface GatewayBenchResult {
  benchmark: 'gateway';
  date: string;
  environment: { node: string; restic: string; cpus: number; cpuModel: string; gatewayNodeFlags: readonly string[]; loadAverageAtStart: number[]; profiled: boolean; operatorEntryPoint: string };
  largeBytes: number;
  smallBytes: number;
  rounds: number;
  goalRatio: number;
  /** Wall times of every local round, seconds, and the fastest. */
  localSecondsByRound: number[];
  localSeconds: number;
  localMiBps: number;
  /** CPU seconds restic spent per GiB into the local directory (fastest local round). */
  localResticCpuSecondsPerGiB: number;
  configurations: Partial<Record<Configuration, ConfigurationResult>>;
}

function fastestOf<T extends { seconds: number }>(runs: T[]): T {
  return runs.reduce((best, run) => (run.seconds < best.seconds ? run : best));
}

function summarise(large: GatewayRun[], small: GatewayRun[], localSeconds: number, largeBytes: number): ConfigurationResult {
  const fastest = fastestOf(large);
  const smallPeak = Math.max(...small.map((r) => r.peakRssMiB));
  const largePeak = Math.max(...large.map((r) => r.peakRssMiB));
  return {
    secondsByRound: large.map((r) => r.seconds),
    seconds: fastest.seconds,
    ratio: fastest.seconds / localSeconds,
    MiBps: largeBytes / MiB / fastest.seconds,
    gatewayCpuSecondsPerGiB: fastest.gatewayCpuSeconds / (largeBytes / GiB),
    gatewayCpuSecondsPerGiBByRound: large.map((r) => r.gatewayCpuSeconds / (largeBytes / GiB)),
    resticCpuSecondsPerGiB: fastest.resticCpuSeconds / (largeBytes / GiB),
    memory: {
      smallPeakRssMiB: smallPeak,
      largePeakRssMiB: largePeak,
      smallMedianRssMiB: median(small.map((r) => r.medianRssMiB)),
      largeMedianRssMiB: median(large.map((r) => r.medianRssMiB)),
      idleRssMiB: median([...large, ...small].map((r) => r.idleRssMiB)),
      openedRssMiB: median([...large, ...small].map((r) => r.startRssMiB)),
      peakGrowthMiB: largePeak - smallPeak,
    },
  };
}

export function configurationsFromEnv(text = process.env.BENCH_GATEWAY_CONFIGS): Configuration[] {
  if (text === undefined || text.trim() === '') return [...CONFIGURATIONS];
  const names = text.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(CONFIGURATIONS as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`BENCH_GATEWAY_CONFIGS: unknown ${unknown.join(', ')}; known: ${CONFIGURATIONS.join(', ')}`);
  return names as Configuration[];
}

/** The side-by-side table the benchmark prints and writes to .bench/gateway.txt. */
export function gatewayTable(result: GatewayBenchResult): string {
  const size = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`;
  const shown = CONFIGURATIONS.filter((c) => result.configurations[c] !== undefined);
  // Columns as wide as their widest cell (the rounds), so that many rounds still line up.
  const width = Math.max(22, ...shown.map((c) => (result.configurations[c]?.secondsByRound.length ?? 0) * 6 + 3));
  const cell = (pick: (r: ConfigurationResult) => string): string => shown.map((c) => pick(result.configurations[c] as ConfigurationResult).padEnd(width)).join('');
  const row = (label: string, pick: (r: ConfigurationResult) => string, goal = ''): string => `  ${label.padEnd(29)}${cell(pick)}${goal}`.trimEnd();
  const env = result.environment;
  return [
    `gateway benchmark: ${size(result.largeBytes)} incompressible, fastest of ${result.rounds} interleaved rounds, ${env.cpus} CPUs (${env.cpuModel}), ${env.restic}${env.profiled ? ', PROFILED (figures perturbed)' : ''}`,
    `  ${'restic → local directory'.padEnd(29)}${result.localSeconds.toFixed(2)} s (${result.localMiBps.toFixed(1)} MiB/s), restic ${result.localResticCpuSecondsPerGiB.toFixed(2)} CPU-s/GiB; rounds: ${result.localSecondsByRound.map((t) => t.toFixed(2)).join(' ')}`,
    `  ${''.padEnd(29)}${shown.map((c) => c.padEnd(width)).join('')}goal`,
    row('ratio gateway/local', (r) => r.ratio.toFixed(3), `≤ ${result.goalRatio}`),
    row('gateway wall time, s', (r) => `${r.seconds.toFixed(2)} (${r.MiBps.toFixed(0)} MiB/s)`),
    row('rounds, s', (r) => r.secondsByRound.map((t) => t.toFixed(2)).join(' ')),
    row('gateway CPU-s/GiB', (r) => r.gatewayCpuSecondsPerGiB.toFixed(2), '≤ 3'),
    row('  by round', (r) => r.gatewayCpuSecondsPerGiBByRound.map((t) => t.toFixed(2)).join(' ')),
    row('restic CPU-s/GiB', (r) => r.resticCpuSecondsPerGiB.toFixed(2)),
    row('idle RSS, MiB (ready)', (r) => r.memory.idleRssMiB.toFixed(1), '≤ 100'),
    row('RSS after restic init, MiB', (r) => r.memory.openedRssMiB.toFixed(1)),
    row(`peak RSS at ${size(result.smallBytes)}, MiB`, (r) => r.memory.smallPeakRssMiB.toFixed(1)),
    row(`peak RSS at ${size(result.largeBytes)}, MiB`, (r) => r.memory.largePeakRssMiB.toFixed(1), 'flat'),
    row('median RSS under load, MiB', (r) => `${r.memory.smallMedianRssMiB.toFixed(0)} / ${r.memory.largeMedianRssMiB.toFixed(0)}`),
    `  ${'load average at start'.padEnd(29)}${env.loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')} (the machine may be shared)`,
  ].join('\n');
}

export async function runGatewayBenchmark(): Promise<GatewayBenchResult> {
  const largeBytes = sizeFromEnv('BENCH_GATEWAY_BYTES', GiB);
  const smallBytes = sizeFromEnv('BENCH_GATEWAY_SMALL_BYTES', Math.min(256 * MiB, largeBytes));
  const rounds = Math.max(1, Number(process.env.BENCH_GATEWAY_ROUNDS ?? 3));
  const configurations = configurationsFromEnv();
  const profiled = process.env.BENCH_GATEWAY_PROFILE === '1';
  const base = process.env.BENCH_DIR ?? tmpdir();
  const out = resolve(import.meta.dirname, '../.bench');
  const loadAverageAtStart = loadavg();
  const log = (text: string): void => console.log(`[gateway bench] ${text}`);
  const entryPoint = !configurations.includes('operator') ? '' : process.env.BENCH_GATEWAY_ENTRY || (await buildImageEntryPoint());
  if (entryPoint !== '') log(`the operator configuration runs ${entryPoint}`);
  const nodeArgsOf = (configuration: Configuration): string[] => (profiled ? ['--cpu-prof', `--cpu-prof-dir=${join(out, 'profiles', configuration)}`] : []);
  const dir = await mkdtemp(join(base, 'gateway-bench-'));
  try {
    log(`generating ${(largeBytes / MiB).toFixed(0)} MiB and ${(smallBytes / MiB).toFixed(0)} MiB of incompressible data in ${dir}`);
    await generateData(join(dir, 'large'), largeBytes);
    await generateData(join(dir, 'small'), smallBytes);

    // Local and gateway runs alternate, so that a burst of load from elsewhere hits all alike.
    const localRuns: LocalRun[] = [];
    const largeRuns = new Map<Configuration, GatewayRun[]>(configurations.map((c) => [c, []]));
    const smallRuns = new Map<Configuration, GatewayRun[]>(configurations.map((c) => [c, []]));
    for (let round = 1; round <= rounds; round++) {
      const local = await localBackup(dir, join(dir, 'large'));
      localRuns.push(local);
      log(`round ${round}: restic → local directory ${local.seconds.toFixed(2)} s (restic CPU ${local.resticCpuSeconds.toFixed(2)} s)`);
      for (const configuration of configurations) {
        const large = await gatewayBackup(configuration, join(dir, 'large'), dir, entryPoint, nodeArgsOf(configuration));
        largeRuns.get(configuration)?.push(large);
        log(
          `round ${round}: restic → ${configuration} gateway ${large.seconds.toFixed(2)} s (gateway CPU ${large.gatewayCpuSeconds.toFixed(2)} s, restic CPU ${large.resticCpuSeconds.toFixed(2)} s, idle RSS ${large.idleRssMiB.toFixed(1)} MiB, peak ${large.peakRssMiB.toFixed(1)} MiB)`,
        );
        const small = await gatewayBackup(configuration, join(dir, 'small'), dir, entryPoint, nodeArgsOf(configuration));
        smallRuns.get(configuration)?.push(small);
        log(`round ${round}: restic → ${configuration} gateway, small data set ${small.seconds.toFixed(2)} s (peak RSS ${small.peakRssMiB.toFixed(1)} MiB)`);
      }
    }
    const fastestLocal = fastestOf(localRuns);
    const resticVersion = (await run('restic', ['version'])).stdout.trim();
    const result: GatewayBenchResult = {
      benchmark: 'gateway',
      date: new Date().toISOString(),
      environment: { node: process.version, restic: resticVersion, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', gatewayNodeFlags: GATEWAY_NODE_FLAGS, loadAverageAtStart, profiled, operatorEntryPoint: entryPoint },
      largeBytes,
      smallBytes,
      rounds,
      goalRatio: 1.3,
      localSecondsByRound: localRuns.map((r) => r.seconds),
      localSeconds: fastestLocal.seconds,
      localMiBps: largeBytes / MiB / fastestLocal.seconds,
      localResticCpuSecondsPerGiB: fastestLocal.resticCpuSeconds / (largeBytes / GiB),
      configurations: Object.fromEntries(configurations.map((c) => [c, summarise(largeRuns.get(c) ?? [], smallRuns.get(c) ?? [], fastestLocal.seconds, largeBytes)])),
    };
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'gateway.json'), `${JSON.stringify(result, null, 2)}\n`);
    const table = gatewayTable(result);
    await writeFile(join(out, 'gateway.txt'), `${table}\n`);
    console.log(`\n${table}\n  written to .bench/gateway.json and .bench/gateway.txt${profiled ? `, profiles under .bench/profiles/` : ''}`);
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Gateway throughput and memory benchmark (not a test).
 *
 * restic backs up the same generated, incompressible data twice in one run: into a local directory
 * repository, and through the gateway (HTTPS with TLS, at-rest encryption on) whose data directory is
 * on the same disk. The figure of merit is the ratio of wall times (gateway / local; goal ≤ 1.3).
 * The gateway runs as its own process; its peak resident memory (VmHWM from /proc) is recorded for
 * a small and a large data set, to show memory stays flat as the data grows.
 *
 * Environment:
 *   BENCH_GATEWAY_BYTES        large data set (default 1 GiB)
 *   BENCH_GATEWAY_SMALL_BYTES  small data set for the memory comparison (default 256 MiB)
 *   BENCH_GATEWAY_ROUNDS       interleaved local/gateway rounds; the fastest of each counts (default 3)
 *   BENCH_DIR                  where to put data and repositories (default: os.tmpdir())
 * Writes .bench/gateway.json.
 */
import { createCipheriv, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { GATEWAY_NODE_FLAGS } from '../src/gateway/command.ts';
import { GatewayFixture, expectSuccess, restic, run } from '../test/e2e/gateway-fixture.ts';

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

interface GatewayRun {
  seconds: number;
  /** CPU the gateway process used during the backup. */
  gatewayCpuSeconds: number;
  /** CPU restic used for the same backup. */
  resticCpuSeconds: number;
  peakRssMiB: number;
  medianRssMiB: number;
  startRssMiB: number;
}

async function gatewayBackup(source: string, baseDir: string): Promise<GatewayRun> {
  const fixture = await GatewayFixture.start({ endpoints: [{ name: 'bench' }], encryptAtRest: true, quotaBytes: 64 * GiB, baseDir });
  try {
    const url = fixture.repositoryUrl('bench');
    expectSuccess(await restic(fixture, url, ['init']), 'gateway restic init');
    const start = await memoryOf(fixture.pid);
    const cpuBefore = await cpuSecondsOf(fixture.pid);
    const resticCpuBefore = await childCpuSeconds();
    const samples: number[] = [];
    const sampler = setInterval(() => {
      memoryOf(fixture.pid).then((m) => samples.push(m.rssKiB), () => undefined);
    }, 100);
    const { seconds, value } = await timed(() => restic(fixture, url, ['backup', '--quiet', source], { timeoutMs: 3_600_000 }));
    clearInterval(sampler);
    expectSuccess(value, 'gateway restic backup');
    const gatewayCpuSeconds = (await cpuSecondsOf(fixture.pid)) - cpuBefore;
    const resticCpuSeconds = (await childCpuSeconds()) - resticCpuBefore;
    const end = await memoryOf(fixture.pid);
    return {
      seconds,
      gatewayCpuSeconds,
      resticCpuSeconds,
      peakRssMiB: Math.max(end.hwmKiB, ...samples) / 1024,
      medianRssMiB: median(samples) / 1024,
      startRssMiB: start.rssKiB / 1024,
    };
  } finally {
    await fixture.close();
  }
}

export interface GatewayBenchResult {
  benchmark: 'gateway';
  date: string;
  environment: { node: string; restic: string; cpus: number; cpuModel: string; gatewayNodeFlags: readonly string[]; loadAverageAtStart: number[] };
  largeBytes: number;
  smallBytes: number;
  rounds: number;
  /** Wall times of every round, seconds. */
  localSecondsByRound: number[];
  gatewaySecondsByRound: number[];
  /** Fastest round of each: the least disturbed by whatever else runs on the machine. */
  localSeconds: number;
  gatewaySeconds: number;
  ratio: number;
  goalRatio: number;
  localMiBps: number;
  gatewayMiBps: number;
  /** CPU seconds the gateway process spent per GiB uploaded (fastest large round). */
  gatewayCpuSecondsPerGiB: number;
  /**
   * CPU seconds restic spent per GiB, into the local directory (fastest local round) and through the
   * gateway (fastest large round). Where restic alone keeps the CPUs busy, the ratio is about
   * (restic through the gateway + gateway) / restic local.
   */
  resticCpuSecondsPerGiB: { local: number; gateway: number };
  memory: {
    /** Highest VmHWM over the rounds at each size. */
    smallPeakRssMiB: number;
    largePeakRssMiB: number;
    /** Median of RSS samples taken every 100 ms during the backups. */
    smallMedianRssMiB: number;
    largeMedianRssMiB: number;
    idleRssMiB: number;
    peakGrowthMiB: number;
  };
}

export async function runGatewayBenchmark(): Promise<GatewayBenchResult> {
  const largeBytes = sizeFromEnv('BENCH_GATEWAY_BYTES', GiB);
  const smallBytes = sizeFromEnv('BENCH_GATEWAY_SMALL_BYTES', Math.min(256 * MiB, largeBytes));
  const rounds = Math.max(1, Number(process.env.BENCH_GATEWAY_ROUNDS ?? 3));
  const base = process.env.BENCH_DIR ?? tmpdir();
  const loadAverageAtStart = loadavg();
  const dir = await mkdtemp(join(base, 'gateway-bench-'));
  try {
    const log = (text: string): void => console.log(`[gateway bench] ${text}`);
    log(`generating ${(largeBytes / MiB).toFixed(0)} MiB and ${(smallBytes / MiB).toFixed(0)} MiB of incompressible data in ${dir}`);
    await generateData(join(dir, 'large'), largeBytes);
    await generateData(join(dir, 'small'), smallBytes);

    // Local and gateway runs alternate, so that a burst of load from elsewhere hits both alike.
    const localRuns: LocalRun[] = [];
    const largeRuns: GatewayRun[] = [];
    const smallRuns: GatewayRun[] = [];
    for (let round = 1; round <= rounds; round++) {
      const local = await localBackup(dir, join(dir, 'large'));
      localRuns.push(local);
      log(`round ${round}: restic → local directory ${local.seconds.toFixed(2)} s (restic CPU ${local.resticCpuSeconds.toFixed(2)} s)`);
      const large = await gatewayBackup(join(dir, 'large'), dir);
      largeRuns.push(large);
      log(
        `round ${round}: restic → gateway ${large.seconds.toFixed(2)} s (gateway CPU ${large.gatewayCpuSeconds.toFixed(2)} s, restic CPU ${large.resticCpuSeconds.toFixed(2)} s, peak RSS ${large.peakRssMiB.toFixed(1)} MiB)`,
      );
      const small = await gatewayBackup(join(dir, 'small'), dir);
      smallRuns.push(small);
      log(`round ${round}: restic → gateway, small data set ${small.seconds.toFixed(2)} s (peak RSS ${small.peakRssMiB.toFixed(1)} MiB)`);
    }
    const fastest = largeRuns.reduce((best, run) => (run.seconds < best.seconds ? run : best));
    const fastestLocal = localRuns.reduce((best, run) => (run.seconds < best.seconds ? run : best));
    const localSeconds = fastestLocal.seconds;
    const smallPeak = Math.max(...smallRuns.map((r) => r.peakRssMiB));
    const largePeak = Math.max(...largeRuns.map((r) => r.peakRssMiB));
    const smallMedian = median(smallRuns.map((r) => r.medianRssMiB));
    const largeMedian = median(largeRuns.map((r) => r.medianRssMiB));
    const idle = median(largeRuns.map((r) => r.startRssMiB));

    const resticVersion = (await run('restic', ['version'])).stdout.trim();
    const result: GatewayBenchResult = {
      benchmark: 'gateway',
      date: new Date().toISOString(),
      environment: { node: process.version, restic: resticVersion, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', gatewayNodeFlags: GATEWAY_NODE_FLAGS, loadAverageAtStart },
      largeBytes,
      smallBytes,
      rounds,
      localSecondsByRound: localRuns.map((r) => r.seconds),
      gatewaySecondsByRound: largeRuns.map((r) => r.seconds),
      localSeconds,
      gatewaySeconds: fastest.seconds,
      ratio: fastest.seconds / localSeconds,
      goalRatio: 1.3,
      localMiBps: largeBytes / MiB / localSeconds,
      gatewayMiBps: largeBytes / MiB / fastest.seconds,
      gatewayCpuSecondsPerGiB: fastest.gatewayCpuSeconds / (largeBytes / GiB),
      resticCpuSecondsPerGiB: { local: fastestLocal.resticCpuSeconds / (largeBytes / GiB), gateway: fastest.resticCpuSeconds / (largeBytes / GiB) },
      memory: {
        smallPeakRssMiB: smallPeak,
        largePeakRssMiB: largePeak,
        smallMedianRssMiB: smallMedian,
        largeMedianRssMiB: largeMedian,
        idleRssMiB: idle,
        peakGrowthMiB: largePeak - smallPeak,
      },
    };
    const out = resolve(import.meta.dirname, '../.bench');
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'gateway.json'), `${JSON.stringify(result, null, 2)}\n`);
    const size = (bytes: number): string => `${(bytes / MiB).toFixed(0)} MiB`;
    console.log(
      [
        '',
        `gateway benchmark: ${size(largeBytes)} incompressible, fastest of ${rounds} interleaved rounds, ${result.environment.cpus} CPUs, ${resticVersion}`,
        `  restic → local directory   ${localSeconds.toFixed(2)} s  (${result.localMiBps.toFixed(1)} MiB/s)   rounds: ${result.localSecondsByRound.map((t) => t.toFixed(2)).join(' ')}`,
        `  restic → gateway (TLS+enc) ${fastest.seconds.toFixed(2)} s  (${result.gatewayMiBps.toFixed(1)} MiB/s)   rounds: ${result.gatewaySecondsByRound.map((t) => t.toFixed(2)).join(' ')}`,
        `  ratio gateway/local        ${result.ratio.toFixed(3)}  (goal ≤ ${result.goalRatio}) ${result.ratio <= result.goalRatio ? 'MET' : 'NOT MET'}`,
        `  gateway CPU                ${result.gatewayCpuSecondsPerGiB.toFixed(2)} s per GiB`,
        `  restic CPU                 ${result.resticCpuSecondsPerGiB.local.toFixed(2)} s per GiB into the local directory, ${result.resticCpuSecondsPerGiB.gateway.toFixed(2)} s per GiB through the gateway`,
        `  gateway RSS peak           ${smallPeak.toFixed(1)} MiB at ${size(smallBytes)}, ${largePeak.toFixed(1)} MiB at ${size(largeBytes)} (idle ${idle.toFixed(1)} MiB)`,
        `  gateway RSS median         ${smallMedian.toFixed(1)} MiB at ${size(smallBytes)}, ${largeMedian.toFixed(1)} MiB at ${size(largeBytes)}`,
        `  load average at start      ${loadAverageAtStart.map((l) => l.toFixed(2)).join(' ')} (the machine may be shared)`,
        `  written to .bench/gateway.json`,
      ].join('\n'),
    );
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

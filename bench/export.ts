/**
 * Export throughput and memory benchmark (not a test): `npm run bench -- export`.
 *
 * For each size, real restic backs up generated incompressible data through the real gateway
 * (provider custody, at-rest encryption on, as the product stores it), then on the same stored files,
 * in one run, interleaved:
 *   floor   `tar cf - <data dir> | sha256sum` — the issue's floor: the plainest tool reading every
 *           file, archiving it and hashing the archive. It writes no archive anywhere, while the
 *           export writes (and fsyncs) one, so the bench also times
 *   floor with file  `tar cf - <data dir> | tee <file> | sha256sum && sync <file>` — the same work
 *           plus the archive written to a real file on the same disk and flushed, as the export does;
 *   export  the export as the CLI runs it, in its own process: scan, decrypt the at-rest layer, hash
 *           every file, write the tar to a directory target hashing it (phase "write"), then read
 *           it back and verify every digest (phase "verify").
 * Figures: ratio export-write / floor (the goal, ≤ 1.5, against the issue's floor), the same ratio
 * against the floor with file, ratio export-with-verify / floor, and the export process's peak RSS
 * (getrusage maxRSS) at each size, to show memory stays flat.
 *
 * Environment:
 *   BENCH_EXPORT_SMALL_BYTES  the smaller data set (default 1GiB)
 *   BENCH_EXPORT_BYTES        the larger data set (default 4GiB; e.g. 256MiB for a quick run)
 *   BENCH_EXPORT_ROUNDS       interleaved floor/export rounds per size; the fastest of each counts (default 2)
 *   BENCH_DIR                 where to put data, repositories and archives (default: os.tmpdir())
 * Writes .bench/export.json and .bench/export.txt.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { TEST_SCRYPT_PARAMS } from '../src/crypto/index.ts';
import { GatewayFixture, expectSuccess, restic, run } from '../test/e2e/gateway-fixture.ts';
import { childCpuSeconds, generateData, sizeFromEnv, timed } from './gateway.ts';

const execFileAsync = promisify(execFile);
const MiB = 1024 * 1024;
const GOAL = 1.5;
const REPO_ROOT = resolve(import.meta.dirname, '..');

/** The export, in a process of its own so that its peak RSS is its own; prints one JSON line. */
const EXPORT_ENTRY = `
import { writeExport } from ${JSON.stringify(join(REPO_ROOT, 'src/export/export.ts'))};
import { readSpaceFacts } from ${JSON.stringify(join(REPO_ROOT, 'src/export/key-source.ts'))};
import { verifyExport } from ${JSON.stringify(join(REPO_ROOT, 'src/export/verify.ts'))};
const [configDir, dataDir, target] = process.argv.slice(1);
const facts = await readSpaceFacts(configDir);
const t0 = performance.now();
const cpu0 = process.cpuUsage();
const written = await writeExport({ ...facts, dataDir, tenant: 'bench', exportId: 'bench', organization: 'Benchmark', createdAt: new Date('2026-12-01T00:00:00Z'), target: { kind: 'directory', path: target } });
const t1 = performance.now();
const cpu1 = process.cpuUsage(cpu0);
const verified = await verifyExport(written.location);
const t2 = performance.now();
process.stdout.write(JSON.stringify({ writeSeconds: (t1 - t0) / 1000, verifySeconds: (t2 - t1) / 1000, writeCpuSeconds: (cpu1.user + cpu1.system) / 1e6, size: verified.size, files: verified.files, bytes: verified.bytes, maxRssKiB: process.resourceUsage().maxRSS }) + '\\n');
`;

interface ExportRun {
  writeSeconds: number;
  /** CPU seconds of the whole export process (every thread) during the write only. */
  writeCpuSeconds: number;
  verifySeconds: number;
  size: number;
  files: number;
  bytes: number;
  maxRssKiB: number;
}

function runExport(configDir: string, dataDir: string, target: string): Promise<ExportRun> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', EXPORT_ENTRY, configDir, dataDir, target], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    child.once('error', fail);
    child.once('close', (code) => {
      if (code !== 0) fail(new Error(`export process failed (${String(code)}):\n${stderr}`));
      else done(JSON.parse(stdout) as ExportRun);
    });
  });
}

export interface ExportSizeResult {
  dataBytes: number;
  storedBytes: number;
  files: number;
  archiveBytes: number;
  floorSeconds: number;
  /** `tar | tee <file> | sha256sum && sync <file>`: the floor writing the archive as the export does. */
  fileFloorSeconds: number;
  writeSeconds: number;
  verifySeconds: number;
  ratioWrite: number;
  ratioWithVerify: number;
  ratioWriteToFileFloor: number;
  floorSecondsByRound: number[];
  fileFloorSecondsByRound: number[];
  writeSecondsByRound: number[];
  peakRssMiB: number;
  /** CPU seconds (user + system) of tar and sha256sum together, fewest of the rounds. */
  floorCpuSeconds: number;
  /** CPU seconds of the export process (write and verify, and Node's start), fewest of the rounds. */
  exportCpuSeconds: number;
  /** CPU seconds of the export process during the write only (all its threads), fewest of the rounds. */
  writeCpuSeconds: number;
}

async function measureSize(base: string, dataBytes: number, rounds: number, log: (line: string) => void): Promise<ExportSizeResult> {
  const dir = await mkdtemp(join(base, 'export-bench-'));
  const fixture = await GatewayFixture.start({ endpoints: [{ name: 'bench-01' }], encryptAtRest: true, custody: 'provider', scrypt: TEST_SCRYPT_PARAMS, quotaBytes: 64 * 1024 ** 3, baseDir: dir });
  try {
    const source = join(dir, 'source');
    await generateData(source, dataBytes);
    const url = fixture.repositoryUrl('bench-01');
    expectSuccess(await restic(fixture, url, ['init']), 'restic init');
    const backup = await timed(() => restic(fixture, url, ['backup', source], { timeoutMs: 3_600_000 }));
    expectSuccess(backup.value, 'restic backup');
    log(`  ${dataBytes / MiB} MiB backed up through the gateway in ${backup.seconds.toFixed(1)} s`);
    await fixture.stopProcess();
    await rm(source, { recursive: true, force: true });
    const stored = Number((await execFileAsync('du', ['-sb', fixture.dataDir])).stdout.split('\t')[0]);
    // Both sides read the stored files; read them once first so both find them in the page cache alike.
    await execFileAsync('sh', ['-c', `tar cf - -C '${fixture.dataDir}' . > /dev/null`]);

    const floors: number[] = [];
    const fileFloors: number[] = [];
    const floorCpus: number[] = [];
    const exportCpus: number[] = [];
    const exports: ExportRun[] = [];
    for (let round = 1; round <= rounds; round++) {
      const cpuBeforeFloor = await childCpuSeconds();
      const floor = await timed(() => run('sh', ['-c', `tar cf - -C '${fixture.dataDir}' . | sha256sum`], { timeoutMs: 3_600_000 }));
      expectSuccess(floor.value, 'tar | sha256sum');
      const floorCpu = (await childCpuSeconds()) - cpuBeforeFloor;
      floors.push(floor.seconds);
      floorCpus.push(floorCpu);
      const floorFile = join(dir, `floor-${round}.tar`);
      const fileFloor = await timed(() => run('sh', ['-c', `tar cf - -C '${fixture.dataDir}' . | tee '${floorFile}' | sha256sum && sync '${floorFile}'`], { timeoutMs: 3_600_000 }));
      expectSuccess(fileFloor.value, 'tar | tee | sha256sum');
      fileFloors.push(fileFloor.seconds);
      await rm(floorFile, { force: true });
      const target = join(dir, `out-${round}`);
      const cpuBeforeExport = await childCpuSeconds();
      const exported = await runExport(fixture.configDir, fixture.dataDir, target);
      exportCpus.push((await childCpuSeconds()) - cpuBeforeExport);
      exports.push(exported);
      await rm(target, { recursive: true, force: true });
      log(`  round ${round}: floor ${floor.seconds.toFixed(2)} s (CPU ${floorCpu.toFixed(2)} s), floor with file ${fileFloor.seconds.toFixed(2)} s, export (CPU ${exportCpus.at(-1)?.toFixed(2)} s, write and verify; ${exported.writeCpuSeconds.toFixed(2)} s in the write) write ${exported.writeSeconds.toFixed(2)} s + verify ${exported.verifySeconds.toFixed(2)} s, peak RSS ${(exported.maxRssKiB / 1024).toFixed(1)} MiB`);
    }
    const floorSeconds = Math.min(...floors);
    const fileFloorSeconds = Math.min(...fileFloors);
    const best = exports.reduce((a, b) => (b.writeSeconds < a.writeSeconds ? b : a));
    const fastestTotal = Math.min(...exports.map((e) => e.writeSeconds + e.verifySeconds));
    return {
      dataBytes,
      storedBytes: stored,
      files: best.files,
      archiveBytes: best.size,
      floorSeconds,
      fileFloorSeconds,
      writeSeconds: best.writeSeconds,
      verifySeconds: best.verifySeconds,
      ratioWrite: best.writeSeconds / floorSeconds,
      ratioWithVerify: fastestTotal / floorSeconds,
      ratioWriteToFileFloor: best.writeSeconds / fileFloorSeconds,
      floorSecondsByRound: floors,
      fileFloorSecondsByRound: fileFloors,
      writeSecondsByRound: exports.map((e) => e.writeSeconds),
      peakRssMiB: Math.max(...exports.map((e) => e.maxRssKiB)) / 1024,
      floorCpuSeconds: Math.min(...floorCpus),
      exportCpuSeconds: Math.min(...exportCpus),
      writeCpuSeconds: Math.min(...exports.map((e) => e.writeCpuSeconds)),
    };
  } finally {
    await fixture.close();
    await rm(dir, { recursive: true, force: true });
  }
}

export async function runExportBenchmark(): Promise<{ sizes: ExportSizeResult[] }> {
  const sizes = [sizeFromEnv('BENCH_EXPORT_SMALL_BYTES', 1024 * MiB), sizeFromEnv('BENCH_EXPORT_BYTES', 4096 * MiB)];
  const rounds = Number(process.env.BENCH_EXPORT_ROUNDS ?? '2');
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error('BENCH_EXPORT_ROUNDS must be a whole number ≥ 1');
  const base = process.env.BENCH_DIR ?? tmpdir();
  await mkdir(base, { recursive: true });
  const loadAtStart = loadavg();
  const lines: string[] = [];
  const log = (line: string): void => {
    console.log(line);
  };
  const results: ExportSizeResult[] = [];
  for (const bytes of sizes) {
    log(`export benchmark: ${bytes / MiB} MiB`);
    results.push(await measureSize(base, bytes, rounds, log));
  }
  const resticVersion = (await run('restic', ['version'])).stdout.trim();
  const result = { environment: { cpus: cpus().length, loadAverageAtStart: loadAtStart, restic: resticVersion, node: process.version }, goalRatio: GOAL, rounds, sizes: results };
  const out = resolve(REPO_ROOT, '.bench');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'export.json'), `${JSON.stringify(result, null, 2)}\n`);
  lines.push(
    '',
    `export benchmark: fastest of ${rounds} interleaved rounds, ${result.environment.cpus} CPUs, load at start ${loadAtStart.map((l) => l.toFixed(2)).join(' ')}, ${resticVersion}`,
    '  restic data  stored     files  floor tar|sha256sum  floor with file  export write  + verify   write/floor  write/floor with file  (write+verify)/floor  peak RSS   CPU floor  CPU export write  CPU export (write+verify)',
    ...results.map(
      (r) =>
        `  ${`${(r.dataBytes / MiB).toFixed(0)} MiB`.padEnd(11)}  ${`${(r.storedBytes / MiB).toFixed(0)} MiB`.padEnd(9)}  ${String(r.files).padStart(5)}  ${`${r.floorSeconds.toFixed(2)} s`.padStart(19)}  ${`${r.fileFloorSeconds.toFixed(2)} s`.padStart(15)}  ${`${r.writeSeconds.toFixed(2)} s`.padStart(12)}  ${`${r.verifySeconds.toFixed(2)} s`.padStart(8)}  ${r.ratioWrite.toFixed(3).padStart(11)} ${r.ratioWrite <= GOAL ? 'MET' : 'NOT MET'}  ${r.ratioWriteToFileFloor.toFixed(3).padStart(21)}  ${r.ratioWithVerify.toFixed(3).padStart(20)}  ${`${r.peakRssMiB.toFixed(1)} MiB`.padEnd(9)}  ${`${r.floorCpuSeconds.toFixed(2)} s`.padStart(9)}  ${`${r.writeCpuSeconds.toFixed(2)} s`.padStart(16)}  ${r.exportCpuSeconds.toFixed(2)} s`,
    ),
    `  goal: export write ≤ ${GOAL} × floor (tar|sha256sum, which writes no archive; the export writes and fsyncs one, as the floor with file does); verify (the re-read) is not in the goal ratio; written to .bench/export.json and .bench/export.txt`,
  );
  await writeFile(join(out, 'export.txt'), `${lines.join('\n')}\n`);
  console.log(lines.join('\n'));
  return { sizes: results };
}

/**
 * Unseal latency with the relay to the other replicas (issue 12 item 9), not a test.
 *
 * For 1, 2 and 3 real gateway processes on one config and data dir (a customer-custody key sealed
 * with the production KDF cost, DEFAULT_SCRYPT_PARAMS), the time from POST /v1/unseal on the first
 * replica until its answer, which comes after every other replica has unwrapped the key itself.
 * Expected: about two KDF runs whatever the number of replicas (the first checks the password, then
 * the peers check it in parallel) — on a 2-core machine a third replica's KDF competes for a core.
 * Each count is measured BENCH_UNSEAL_ROUNDS times (default 3, replicas restarted sealed between
 * rounds); the fastest and the median are kept. Writes .bench/unseal.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_SCRYPT_PARAMS } from '../src/crypto/index.ts';
import { closeReplicas, startReplicas, type GatewayFixture } from '../test/e2e/gateway-fixture.ts';

async function unsealOnce(replicas: GatewayFixture[]): Promise<number> {
  const first = replicas[0] as GatewayFixture;
  const token = await first.signIn('alice');
  const start = process.hrtime.bigint();
  const response = await first.fetch('/v1/unseal', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ password: first.secrets.customerPassword }) });
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const body = JSON.parse(response.text) as { replicas?: { ready: number } };
  if (response.status !== 200 || body.replicas?.ready !== replicas.length) throw new Error(`unseal failed: ${response.status} ${response.text}`);
  return ms;
}

async function measure(count: number, rounds: number): Promise<{ replicas: number; fastestMs: number; medianMs: number; roundsMs: number[] }> {
  const replicas = await startReplicas(count, {
    endpoints: [{ name: 'bench' }],
    custody: 'customer',
    humansPolicy: 'one-factor',
    users: [{ name: 'alice', role: 'admin' }],
    scrypt: DEFAULT_SCRYPT_PARAMS,
  });
  try {
    const roundsMs: number[] = [];
    for (let round = 0; round < rounds; round++) {
      if (round > 0) {
        for (const replica of replicas) {
          await replica.stopProcess();
          await replica.startProcess();
        }
      }
      roundsMs.push(await unsealOnce(replicas));
    }
    const sorted = [...roundsMs].sort((a, b) => a - b);
    return { replicas: count, fastestMs: Math.round(sorted[0] ?? 0), medianMs: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0), roundsMs: roundsMs.map(Math.round) };
  } finally {
    await closeReplicas(replicas);
  }
}

export async function runUnsealBenchmark(): Promise<unknown> {
  const rounds = Number(process.env.BENCH_UNSEAL_ROUNDS ?? 3);
  const results = [];
  for (const count of [1, 2, 3]) results.push(await measure(count, rounds));
  const result = { kdf: DEFAULT_SCRYPT_PARAMS, cpus: cpus().length, loadavg: loadavg(), results };
  const out = resolve(import.meta.dirname, '../.bench');
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'unseal.json'), `${JSON.stringify(result, null, 2)}\n`);
  console.log([
    `unseal through one replica, relayed to the others (scrypt N=${DEFAULT_SCRYPT_PARAMS.cost}, ${cpus().length} CPUs, load ${loadavg()[0]?.toFixed(2)}):`,
    ...results.map((r) => `  ${r.replicas} replica(s): fastest ${r.fastestMs} ms, median ${r.medianMs} ms (${r.roundsMs.join(', ')})`),
    '  written to .bench/unseal.json',
  ].join('\n'));
  return result;
}

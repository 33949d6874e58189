/**
 * scrypt (RFC 7914) through node:crypto, with parameter bounds. Every parameter set — given by a
 * caller or read back from a stored record or hash — passes validateScryptParams first, so a tampered
 * record cannot make us allocate gigabytes or spin for minutes.
 *
 * Memory used by one derivation is 128 · r · (N + p + 2) bytes (OpenSSL's accounting); time grows with
 * N · r · p. Defaults: N = 2^15, r = 8, p = 1 → 32 MiB, about 0.1 s on one core.
 */
import { scrypt } from 'node:crypto';
import { ScryptParamsError } from './errors.ts';

export interface ScryptParams {
  /** N, the CPU/memory cost: a power of two. */
  readonly cost: number;
  /** r, the block size. */
  readonly blockSize: number;
  /** p, the parallelization. */
  readonly parallelization: number;
}

/** Production default: N = 2^15, r = 8, p = 1 (32 MiB per derivation). */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = Object.freeze({ cost: 2 ** 15, blockSize: 8, parallelization: 1 });

/** Cheap parameters for unit tests only (N = 2^10: 1 MiB, ~2 ms). Never use them for stored secrets. */
export const TEST_SCRYPT_PARAMS: ScryptParams = Object.freeze({ cost: 2 ** 10, blockSize: 8, parallelization: 1 });

export const SCRYPT_BOUNDS = Object.freeze({
  minCost: 2 ** 10,
  maxCost: 2 ** 20,
  maxBlockSize: 32,
  maxParallelization: 16,
  /** 256 MiB: 8 × the default. */
  maxMemoryBytes: 256 * 1024 * 1024,
  /** N · r · p at most 16 × the default (~1.6 s). */
  maxWork: 2 ** 22,
});

/** Bytes OpenSSL requires as `maxmem` for these parameters. */
export function scryptMemoryBytes(params: ScryptParams): number {
  return 128 * params.blockSize * (params.cost + params.parallelization + 2);
}

function isIntegerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= min && value <= max;
}

/**
 * Returns the parameters as a fresh ScryptParams when they are within bounds; otherwise throws a
 * ScryptParamsError naming the parameter and the rule. `source` says where they came from.
 */
export function validateScryptParams(params: unknown, source = 'scrypt parameters'): ScryptParams {
  if (typeof params !== 'object' || params === null) {
    throw new ScryptParamsError(`${source}: expected an object with cost, blockSize and parallelization`);
  }
  const { cost, blockSize, parallelization } = params as Record<string, unknown>;
  const b = SCRYPT_BOUNDS;
  if (!isIntegerIn(cost, b.minCost, b.maxCost) || (cost & (cost - 1)) !== 0) {
    throw new ScryptParamsError(
      `${source}: cost (N) must be a power of two from ${b.minCost} to ${b.maxCost}, got ${String(cost)}`,
    );
  }
  if (!isIntegerIn(blockSize, 1, b.maxBlockSize)) {
    throw new ScryptParamsError(`${source}: blockSize (r) must be an integer from 1 to ${b.maxBlockSize}, got ${String(blockSize)}`);
  }
  if (!isIntegerIn(parallelization, 1, b.maxParallelization)) {
    throw new ScryptParamsError(
      `${source}: parallelization (p) must be an integer from 1 to ${b.maxParallelization}, got ${String(parallelization)}`,
    );
  }
  const checked: ScryptParams = { cost, blockSize, parallelization };
  if (scryptMemoryBytes(checked) > b.maxMemoryBytes) {
    throw new ScryptParamsError(
      `${source}: 128·r·(N+p+2) = ${scryptMemoryBytes(checked)} bytes exceeds the ${b.maxMemoryBytes}-byte memory limit`,
    );
  }
  if (cost * blockSize * parallelization > b.maxWork) {
    throw new ScryptParamsError(`${source}: N·r·p = ${cost * blockSize * parallelization} exceeds the work limit ${b.maxWork}`);
  }
  return checked;
}

/** One asynchronous scrypt derivation (runs on the libuv thread pool) with validated parameters. */
export async function deriveScrypt(
  secret: string | Uint8Array,
  salt: Uint8Array,
  keyLength: number,
  params: ScryptParams,
): Promise<Buffer> {
  const p = validateScryptParams(params);
  return await new Promise((resolve, reject) => {
    scrypt(
      secret,
      salt,
      keyLength,
      { cost: p.cost, blockSize: p.blockSize, parallelization: p.parallelization, maxmem: scryptMemoryBytes(p) },
      (err, derived) => (err ? reject(err) : resolve(derived)),
    );
  });
}

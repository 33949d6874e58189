/**
 * Kubernetes resource quantities (`200Gi`, `1.5T`, `500M`, `1e9`, `100`) as exact integers, for
 * storage sums that must not drift the way floating point would (80Gi + 20Gi must equal 100Gi).
 *
 * Grammar (k8s.io/apimachinery resource.Quantity):
 *   <quantity> ::= <sign>? <number> <suffix>
 *   <number>   ::= <digits> | <digits>.<digits>? | .<digits>
 *   <suffix>   ::= Ki|Mi|Gi|Ti|Pi|Ei | n|u|m|""|k|M|G|T|P|E | (e|E)<sign>?<digits>
 * Like Quantity.Value(), a value is rounded up (away from zero) to a whole unit: storage is counted
 * in whole bytes.
 */

export class QuantityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QuantityError';
  }
}

const SYNTAX = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei)|([numkMGTPE])|[eE]([+-]?\d+))?$/;

const BINARY_POWERS: Record<string, bigint> = { Ki: 10n, Mi: 20n, Gi: 30n, Ti: 40n, Pi: 50n, Ei: 60n };
const DECIMAL_EXPONENTS: Record<string, number> = { n: -9, u: -6, m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

/**
 * Bounds that keep a hostile value (`1e999999999`) from making us build a gigantic integer; far past
 * any real storage size (10^100 bytes), and quantities this large are not meaningful to the API server.
 */
const MAX_DIGITS = 100;
const MAX_EXPONENT = 100;

/** The quantity as a whole number of units (bytes, for storage), rounded up. Throws QuantityError. */
export function parseQuantity(value: string | number): bigint {
  const text = typeof value === 'number' ? numberText(value) : value;
  const match = SYNTAX.exec(text);
  if (!match) throw new QuantityError(`'${text}' is not a quantity (expected e.g. 100Gi, 500G, 1.5Ti or 1e12)`);
  const [, sign = '', number = '', binary, decimal, exponentText] = match;
  const [whole = '', fraction = ''] = number.split('.');
  const digits = `${whole}${fraction}`.replace(/^0+(?=\d)/, '');
  if (digits.length > MAX_DIGITS) throw new QuantityError(`'${text}' has too many digits`);

  let exponent = -fraction.length;
  if (decimal !== undefined) exponent += DECIMAL_EXPONENTS[decimal] ?? 0;
  if (exponentText !== undefined) {
    const parsed = Number(exponentText);
    if (!Number.isSafeInteger(parsed) || Math.abs(parsed) > MAX_EXPONENT) throw new QuantityError(`'${text}' is out of range`);
    exponent += parsed;
  }
  let numerator = BigInt(digits || '0');
  if (binary !== undefined) numerator <<= BINARY_POWERS[binary] ?? 0n;
  let result: bigint;
  if (exponent >= 0) {
    result = numerator * 10n ** BigInt(exponent);
  } else {
    const denominator = 10n ** BigInt(-exponent);
    result = numerator / denominator + (numerator % denominator === 0n ? 0n : 1n);
  }
  return sign === '-' ? -result : result;
}

function numberText(value: number): string {
  if (!Number.isFinite(value)) throw new QuantityError(`${value} is not a quantity`);
  // String(1e21) is '1e+21', which the grammar accepts; integers print plainly.
  return String(value);
}

const BINARY_SUFFIXES = ['Ei', 'Pi', 'Ti', 'Gi', 'Mi', 'Ki'] as const;
const DECIMAL_SUFFIXES = ['E', 'P', 'T', 'G', 'M', 'k'] as const;

/**
 * A whole number of units in the shortest exact spelling a person reads easily: the largest binary
 * suffix that divides it, else the largest decimal one, else plain digits (110Gi, 2k, 1500).
 */
export function formatQuantity(value: bigint): string {
  if (value === 0n) return '0';
  const sign = value < 0n ? '-' : '';
  const magnitude = value < 0n ? -value : value;
  for (const suffix of BINARY_SUFFIXES) {
    const unit = 1n << (BINARY_POWERS[suffix] ?? 0n);
    if (magnitude % unit === 0n) return `${sign}${magnitude / unit}${suffix}`;
  }
  for (const suffix of DECIMAL_SUFFIXES) {
    const unit = 10n ** BigInt(DECIMAL_EXPONENTS[suffix] ?? 0);
    if (magnitude % unit === 0n) return `${sign}${magnitude / unit}${suffix}`;
  }
  return `${sign}${magnitude}`;
}

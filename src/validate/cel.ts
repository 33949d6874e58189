/**
 * Evaluates the CRDs' CEL rules (x-kubernetes-validations) offline, as the API server does on create:
 * transition rules (those reading oldSelf) only run on update and are skipped here. The Kubernetes
 * CEL libraries the rules use (IP/CIDR, quantity) are provided with the same semantics.
 */
import { isIP } from 'node:net';
import { Environment } from '@marcbachmann/cel-js';
import { parseQuantity } from '../admission/quantity.ts';
import type { CelRule } from '../api/schema.ts';

/** A resource.Quantity as Kubernetes' CEL quantity library sees it, compared exactly (in whole units). */
class Quantity {
  readonly units: bigint;
  constructor(units: bigint) {
    this.units = units;
  }
}

function isQuantity(value: string): boolean {
  try {
    parseQuantity(value);
    return true;
  } catch {
    return false;
  }
}

const compare = (a: Quantity, b: Quantity): bigint => (a.units > b.units ? 1n : a.units < b.units ? -1n : 0n);

function isCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  if (address === undefined || prefix === undefined || rest.length > 0 || !/^\d{1,3}$/.test(prefix)) return false;
  const family = isIP(address);
  const bits = Number(prefix);
  return (family === 4 && bits <= 32) || (family === 6 && bits <= 128);
}

const environment = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false })
  .registerFunction('isIP(string): bool', (value: string) => isIP(value) !== 0)
  .registerFunction('isCIDR(string): bool', (value: string) => isCidr(value))
  .registerType('Quantity', Quantity)
  .registerFunction('isQuantity(string): bool', isQuantity)
  .registerFunction('quantity(string): Quantity', (value: string) => new Quantity(parseQuantity(value)))
  .registerFunction('Quantity.isGreaterThan(Quantity): bool', (a: Quantity, b: Quantity) => a.units > b.units)
  .registerFunction('Quantity.isLessThan(Quantity): bool', (a: Quantity, b: Quantity) => a.units < b.units)
  .registerFunction('Quantity.compareTo(Quantity): int', compare);

const compiled = new Map<string, ReturnType<typeof environment.parse>>();

export function isTransitionRule(rule: CelRule): boolean {
  return /\boldSelf\b/.test(rule.rule);
}

export type CelOutcome = { ok: true } | { ok: false; error?: string };

/** Evaluates one rule against the value it is attached to. An evaluation error counts as a failure, as in the API server. */
export function evaluateRule(rule: CelRule, self: unknown): CelOutcome {
  let program = compiled.get(rule.rule);
  if (!program) {
    program = environment.parse(rule.rule);
    compiled.set(rule.rule, program);
  }
  try {
    return program({ self }) === true ? { ok: true } : { ok: false };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message.split('\n')[0] : String(error) };
  }
}

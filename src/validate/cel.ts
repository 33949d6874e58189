/**
 * Evaluates the CRDs' CEL rules (x-kubernetes-validations) offline, as the API server does on create:
 * transition rules (those reading oldSelf) only run on update and are skipped here. The Kubernetes
 * CEL libraries the rules use (IP/CIDR) are provided with the same semantics.
 */
import { isIP } from 'node:net';
import { Environment } from '@marcbachmann/cel-js';
import type { CelRule } from '../api/schema.ts';

function isCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  if (address === undefined || prefix === undefined || rest.length > 0 || !/^\d{1,3}$/.test(prefix)) return false;
  const family = isIP(address);
  const bits = Number(prefix);
  return (family === 4 && bits <= 32) || (family === 6 && bits <= 128);
}

const environment = new Environment({ unlistedVariablesAreDyn: true, homogeneousAggregateLiterals: false })
  .registerFunction('isIP(string): bool', (value: string) => isIP(value) !== 0)
  .registerFunction('isCIDR(string): bool', (value: string) => isCidr(value));

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

/**
 * Validates one object of this API against its CRD schema offline, the way the API server does on
 * create: OpenAPI schema (ajv, with defaults applied first), unknown fields (as kubectl's strict field
 * validation reports them), list-map key uniqueness, and the CEL rules. Errors carry the same field
 * paths as the API server's (e.g. `spec.contacts[0].email`), so a pipeline finds what admission would.
 */
import type { TSchema } from '@sinclair/typebox';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule, { type FormatsPlugin } from 'ajv-formats';
import { objectSchema, type ResourceDefinition } from '../api/resource.ts';
import type { CelRule, KubeSchemaOptions } from '../api/schema.ts';
import { evaluateRule, isTransitionRule } from './cel.ts';

export interface FieldError {
  /** Field path as the API server writes it, e.g. `spec.contacts[0].email`. */
  path: string;
  /** Which rule broke: a JSON-schema keyword (required, pattern, enum, format…), `cel`, `unknown-field` or `duplicate`. */
  rule: string;
  message: string;
}

type Schema = KubeSchemaOptions & {
  type?: string;
  properties?: Record<string, Schema>;
  items?: Schema;
  additionalProperties?: Schema | boolean;
  required?: string[];
  anyOf?: Schema[];
  'x-kubernetes-int-or-string'?: boolean;
};

// ajv-formats is CommonJS: under NodeNext its typed default import is the module object, whose
// `default` is the plugin (at run time both are the same function).
const addFormats = (addFormatsModule as unknown as { default: FormatsPlugin }).default;

function createAjv(): Ajv {
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, validateFormats: true });
  addFormats(ajv, ['email', 'date', 'date-time']);
  ajv.addFormat('int64', true);
  return ajv;
}

const ajv = createAjv();
const validators = new Map<string, ValidateFunction>();

function validatorFor(resource: ResourceDefinition): ValidateFunction {
  let validate = validators.get(resource.kind);
  if (!validate) {
    validate = ajv.compile(objectSchema(resource));
    validators.set(resource.kind, validate);
  }
  return validate;
}

function joinPath(parent: string, segment: string | number): string {
  if (typeof segment === 'number') return `${parent}[${segment}]`;
  return parent ? `${parent}.${segment}` : segment;
}

function pointerToPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce<string>((path, part) => (/^\d+$/.test(part) ? joinPath(path, Number(part)) : joinPath(path, part)), '');
}

function describeAjvError(error: ErrorObject): FieldError {
  const path = pointerToPath(error.instancePath);
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { path: joinPath(path, String(params.missingProperty)), rule: 'required', message: 'Required value' };
    case 'enum':
      return { path, rule: 'enum', message: `Unsupported value: supported values: ${(params.allowedValues as string[]).map((v) => `"${v}"`).join(', ')}` };
    case 'pattern':
      return { path, rule: 'pattern', message: `should match '${String(params.pattern)}'` };
    case 'format':
      return { path, rule: 'format', message: `must be of type ${String(params.format)}` };
    case 'anyOf':
      return { path, rule: 'type', message: 'must be an integer or a string' };
    default:
      return { path, rule: error.keyword, message: error.message ?? error.keyword };
  }
}

function schemaErrors(validate: ValidateFunction, object: unknown): FieldError[] {
  if (validate(object)) return [];
  const errors = validate.errors ?? [];
  // int-or-string fields: the failing branches of anyOf say nothing the anyOf error does not.
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  return errors
    .filter((e) => e.keyword === 'anyOf' || !(anyOfPaths.has(e.instancePath) && e.schemaPath.includes('/anyOf/')))
    .map(describeAjvError);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Fields the schema does not declare (the API server prunes them; strict field validation refuses them). */
function unknownFields(schema: Schema, value: unknown, path: string): FieldError[] {
  if (schema['x-kubernetes-preserve-unknown-fields']) return [];
  if (Array.isArray(value) && schema.items) {
    return value.flatMap((item, index) => unknownFields(schema.items as Schema, item, joinPath(path, index)));
  }
  if (!isObject(value)) return [];
  if (schema.properties) {
    return Object.entries(value).flatMap(([key, child]) => {
      const childSchema = schema.properties?.[key];
      if (!childSchema) return [{ path: joinPath(path, key), rule: 'unknown-field', message: 'field not declared in schema' }];
      // ObjectMeta is the API server's, whatever the CRD says of it (only its name, for rules to point at).
      if (path === '' && key === 'metadata') return [];
      return unknownFields(childSchema, child, joinPath(path, key));
    });
  }
  if (typeof schema.additionalProperties === 'object') {
    const valueSchema = schema.additionalProperties;
    return Object.entries(value).flatMap(([key, child]) => unknownFields(valueSchema, child, `${path}[${key}]`));
  }
  return [];
}

function duplicateKeys(schema: Schema, value: unknown[], path: string): FieldError[] {
  const listType = schema['x-kubernetes-list-type'];
  if (listType !== 'map' && listType !== 'set') return [];
  const keys = schema['x-kubernetes-list-map-keys'] ?? [];
  const seen = new Set<string>();
  return value.flatMap((item, index) => {
    const identity = listType === 'map' && isObject(item) ? JSON.stringify(Object.fromEntries(keys.map((k) => [k, item[k]]))) : JSON.stringify(item);
    if (seen.has(identity)) return [{ path: joinPath(path, index), rule: 'duplicate', message: `Duplicate value: ${identity}` }];
    seen.add(identity);
    return [];
  });
}

/** Where a CEL rule's error points: its node, or its fieldPath below it (`.metadata.name` at the root is `metadata.name`). */
export function celPath(path: string, rule: Pick<CelRule, 'fieldPath'>): string {
  if (!rule.fieldPath) return path;
  if (!rule.fieldPath.startsWith('.')) return joinPath(path, rule.fieldPath);
  return path ? `${path}${rule.fieldPath}` : rule.fieldPath.slice(1);
}

/** CEL rules and list-key uniqueness, walked over the defaulted object (rules only run where a value exists). */
function ruleErrors(schema: Schema, value: unknown, path: string): FieldError[] {
  if (value === undefined || value === null) return [];
  const errors: FieldError[] = [];
  if (Array.isArray(value)) {
    errors.push(...duplicateKeys(schema, value, path));
    if (schema.items) value.forEach((item, index) => errors.push(...ruleErrors(schema.items as Schema, item, joinPath(path, index))));
  } else if (isObject(value)) {
    if (schema.properties) {
      for (const [key, childSchema] of Object.entries(schema.properties)) errors.push(...ruleErrors(childSchema, value[key], joinPath(path, key)));
    } else if (typeof schema.additionalProperties === 'object') {
      for (const [key, child] of Object.entries(value)) errors.push(...ruleErrors(schema.additionalProperties, child, `${path}[${key}]`));
    }
  }
  for (const rule of schema['x-kubernetes-validations'] ?? []) {
    if (isTransitionRule(rule)) continue;
    const outcome = evaluateRule(rule, value);
    if (!outcome.ok) {
      errors.push({ path: celPath(path, rule), rule: 'cel', message: outcome.error ? `${rule.message} (evaluation error: ${outcome.error})` : rule.message });
    }
  }
  return errors;
}

/**
 * Schema errors after which the API server does not run CEL rules (apiextensions-apiserver's
 * hasBlockingErr: NotSupported, Required, TooLong, TooMany, TypeInvalid — which format errors are).
 */
const CEL_BLOCKING_RULES = new Set(['enum', 'required', 'maxLength', 'maxItems', 'type', 'format']);

export function validateObject(resource: ResourceDefinition, object: Record<string, unknown>): FieldError[] {
  return validateWith(JSON.parse(JSON.stringify(objectSchema(resource))) as Schema, validatorFor(resource), object);
}

const valueValidators = new WeakMap<TSchema, { plain: Schema; validate: ValidateFunction }>();

/**
 * A value against one schema of this API (not a whole object), by the same checks: for settings
 * given to the operator in the shape of a field (`--gateway-workload` is a Datacenter's spec.gateway).
 * Paths are relative to the value (`resources.limits[memory]`).
 */
export function validateValue(schema: TSchema, value: unknown): FieldError[] {
  let compiled = valueValidators.get(schema);
  if (!compiled) {
    const plain = JSON.parse(JSON.stringify(schema)) as Schema;
    compiled = { plain, validate: ajv.compile(plain) };
    valueValidators.set(schema, compiled);
  }
  return validateWith(compiled.plain, compiled.validate, value);
}

function validateWith(schema: Schema, validate: ValidateFunction, value: unknown): FieldError[] {
  // Strict field validation refuses unknown fields while decoding, before any other check.
  const unknown = unknownFields(schema, value, '');
  if (unknown.length > 0) return unknown;
  const defaulted = structuredClone(value);
  const errors = schemaErrors(validate, defaulted);
  if (errors.some((e) => CEL_BLOCKING_RULES.has(e.rule))) {
    return [...errors, { path: '', rule: 'cel', message: 'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation' }];
  }
  return [...errors, ...ruleErrors(schema, defaulted, '')];
}

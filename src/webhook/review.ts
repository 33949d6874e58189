/**
 * admission.k8s.io/v1 AdmissionReview: reading the API server's request and writing the answer, as
 * pure functions so that every malformed input has a tested, explicit outcome.
 */
import type { Denied, RuleName, RuleResult } from '../admission/rules.ts';
import { RULES } from '../admission/rules.ts';

export const ADMISSION_API_VERSION = 'admission.k8s.io/v1';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
const OPERATIONS: readonly string[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

/** The fields of AdmissionRequest the webhook reads. */
export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: { username?: string; groups?: string[] };
  /** The object as it would be stored (absent for DELETE). */
  object?: unknown;
  /** The object as stored (UPDATE and DELETE). */
  oldObject?: unknown;
  dryRun?: boolean;
}

/** A field a refusal is about, as metav1.StatusCause: API clients read `field` without parsing the message. */
export interface AdmissionCause {
  type: 'FieldValueInvalid' | 'FieldValueForbidden';
  field: string;
  message: string;
}

export interface AdmissionStatus {
  code: number;
  reason: string;
  message: string;
  details?: { causes: AdmissionCause[] };
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: AdmissionStatus;
  warnings?: string[];
}

export interface AdmissionReview {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

/** What the webhook decided: allowed, or refused with an HTTP-like code the API server passes on. */
export type Verdict = { allowed: true } | { allowed: false; status: AdmissionStatus };

export type ParsedReview =
  | { ok: true; request: AdmissionRequest }
  /** Not an AdmissionReview we can answer (no uid to answer to): a plain HTTP error. */
  | { ok: false; httpStatus: number; message: string };

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isString(value: unknown): value is string {
  return typeof value === 'string';
}

/** Reads a request body; says precisely what is wrong with one that is not an AdmissionReview v1 request. */
export function parseReview(body: string): ParsedReview {
  let review: unknown;
  try {
    review = JSON.parse(body);
  } catch {
    return { ok: false, httpStatus: 400, message: 'the body is not JSON: expected an admission.k8s.io/v1 AdmissionReview' };
  }
  if (!isObject(review) || review.kind !== 'AdmissionReview') {
    return { ok: false, httpStatus: 400, message: 'the body is not an AdmissionReview' };
  }
  if (review.apiVersion !== ADMISSION_API_VERSION) {
    return { ok: false, httpStatus: 400, message: `AdmissionReview ${String(review.apiVersion)} is not supported: register the webhook with admissionReviewVersions [v1]` };
  }
  const request = review.request;
  if (!isObject(request)) return { ok: false, httpStatus: 400, message: 'the AdmissionReview has no request' };
  if (!isString(request.uid) || request.uid === '') return { ok: false, httpStatus: 400, message: 'the AdmissionReview request has no uid' };
  const { kind, resource, operation } = request;
  if (!isObject(kind) || !isString(kind.kind) || !isString(kind.group) || !isString(kind.version)) {
    return { ok: false, httpStatus: 400, message: 'the AdmissionReview request has no kind' };
  }
  if (!isObject(resource) || !isString(resource.resource) || !isString(resource.group) || !isString(resource.version)) {
    return { ok: false, httpStatus: 400, message: 'the AdmissionReview request has no resource' };
  }
  if (!isString(operation) || !OPERATIONS.includes(operation)) {
    return { ok: false, httpStatus: 400, message: `the AdmissionReview request has an unknown operation ${JSON.stringify(operation)}` };
  }
  return {
    ok: true,
    request: {
      uid: request.uid,
      kind: { group: kind.group, version: kind.version, kind: kind.kind },
      resource: { group: resource.group, version: resource.version, resource: resource.resource },
      ...(isString(request.subResource) && request.subResource ? { subResource: request.subResource } : {}),
      ...(isString(request.name) && request.name ? { name: request.name } : {}),
      ...(isString(request.namespace) && request.namespace ? { namespace: request.namespace } : {}),
      operation: operation as Operation,
      ...(isObject(request.userInfo) ? { userInfo: request.userInfo as AdmissionRequest['userInfo'] } : {}),
      ...(isObject(request.object) ? { object: request.object } : {}),
      ...(isObject(request.oldObject) ? { oldObject: request.oldObject } : {}),
      ...(request.dryRun === true ? { dryRun: true } : {}),
    },
  };
}

/**
 * Rules about the object's own fields answer 422 Invalid (fix the object); rules about its relation
 * to other objects answer 403 Forbidden (the object is fine, but not allowed here and now).
 */
const INVALID_RULES: ReadonlySet<RuleName> = new Set([RULES.quantity, RULES.replicas, RULES.sameNamespace]);

export function verdictOf(result: RuleResult): Verdict {
  if (result.allowed) return { allowed: true };
  return refusal(result);
}

/**
 * The refusal as the API server passes it on: the message (`<field>: <rule>: <detail>`, what kubectl
 * prints) and the field again as a cause, so that every refusal names its field path for clients too.
 */
function refusal(denied: Denied): Verdict {
  const invalid = INVALID_RULES.has(denied.rule);
  const field = denied.field;
  const prefix = `${denied.field}: `;
  const detail = denied.message.startsWith(prefix) ? denied.message.slice(prefix.length) : denied.message;
  return {
    allowed: false,
    status: {
      code: invalid ? 422 : 403,
      reason: invalid ? 'Invalid' : 'Forbidden',
      message: denied.message,
      details: { causes: [{ type: invalid ? 'FieldValueInvalid' : 'FieldValueForbidden', field, message: detail }] },
    },
  };
}

/** A refusal that is the webhook's problem, not the object's (caches not synced, a bug): fail closed, say why. */
export function errorVerdict(code: number, message: string): Verdict {
  return { allowed: false, status: { code, reason: code === 503 ? 'ServiceUnavailable' : code === 400 ? 'BadRequest' : 'InternalError', message } };
}

export function reviewResponse(uid: string, verdict: Verdict): AdmissionReview {
  return {
    apiVersion: ADMISSION_API_VERSION,
    kind: 'AdmissionReview',
    response: verdict.allowed ? { uid, allowed: true } : { uid, allowed: false, status: verdict.status },
  };
}

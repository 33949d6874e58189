import { describe, expect, it } from 'vitest';
import { deny, RULES } from '../admission/rules.ts';
import { errorVerdict, parseReview, reviewResponse, verdictOf } from './review.ts';

function reviewBody(request: Record<string, unknown>): string {
  return JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request });
}

const base = {
  uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
  kind: { group: 'tenantbackup.io', version: 'v1alpha1', kind: 'BackupSpace' },
  resource: { group: 'tenantbackup.io', version: 'v1alpha1', resource: 'backupspaces' },
  namespace: 'tenant-acme',
  name: 'data',
  operation: 'CREATE',
  userInfo: { username: 'admin' },
  object: { metadata: { name: 'data' }, spec: { size: '1Gi', datacenter: 'it-mil1' } },
  oldObject: null,
  dryRun: false,
};

describe('parseReview', () => {
  it('reads an AdmissionReview v1 request', () => {
    const parsed = parseReview(reviewBody(base));
    expect(parsed).toEqual({
      ok: true,
      request: {
        uid: base.uid,
        kind: base.kind,
        resource: base.resource,
        namespace: 'tenant-acme',
        name: 'data',
        operation: 'CREATE',
        userInfo: { username: 'admin' },
        object: base.object,
      },
    });
  });

  it('keeps oldObject, subResource and dryRun when present', () => {
    const parsed = parseReview(reviewBody({ ...base, operation: 'UPDATE', oldObject: base.object, subResource: 'status', dryRun: true }));
    expect(parsed.ok && parsed.request).toMatchObject({ operation: 'UPDATE', oldObject: base.object, subResource: 'status', dryRun: true });
  });

  it.each([
    ['not JSON', '{', 'the body is not JSON'],
    ['JSON but not a review', '[1,2]', 'not an AdmissionReview'],
    ['another kind', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'Pod' }), 'not an AdmissionReview'],
    ['v1beta1', JSON.stringify({ apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: base }), 'admission.k8s.io/v1beta1 is not supported'],
    ['no request', JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }), 'has no request'],
    ['no uid', reviewBody({ ...base, uid: '' }), 'has no uid'],
    ['no kind', reviewBody({ ...base, kind: 'BackupSpace' }), 'has no kind'],
    ['no resource', reviewBody({ ...base, resource: undefined }), 'has no resource'],
    ['an unknown operation', reviewBody({ ...base, operation: 'PATCH' }), 'unknown operation "PATCH"'],
  ])('answers %s with a 400 that says what is wrong', (_what, body, message) => {
    const parsed = parseReview(body);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.httpStatus).toBe(400);
      expect(parsed.message).toContain(message);
    }
  });
});

describe('responses', () => {
  it('allows with the request uid', () => {
    expect(reviewResponse('u1', verdictOf({ allowed: true }))).toEqual({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u1', allowed: true } });
  });

  it('refuses cross-object rules with 403 Forbidden and the rule\'s message', () => {
    const denied = deny('spec.datacenter', RULES.residency, 'datacenter de-fra1 is in DE, but tenant acme allows only IT');
    expect(reviewResponse('u2', verdictOf(denied)).response).toEqual({
      uid: 'u2',
      allowed: false,
      status: {
        code: 403,
        reason: 'Forbidden',
        message: 'spec.datacenter: residency: datacenter de-fra1 is in DE, but tenant acme allows only IT',
        details: { causes: [{ type: 'FieldValueForbidden', field: 'spec.datacenter', message: 'residency: datacenter de-fra1 is in DE, but tenant acme allows only IT' }] },
      },
    });
  });

  it('names the field path of every refusal, in the message and as a cause', () => {
    for (const rule of Object.values(RULES)) {
      const verdict = verdictOf(deny('spec.fixedAddress.ip', rule, 'what is wrong'));
      if (verdict.allowed) throw new Error('expected a refusal');
      expect(verdict.status.message).toBe(`spec.fixedAddress.ip: ${rule}: what is wrong`);
      expect(verdict.status.details?.causes).toEqual([{ type: verdict.status.code === 422 ? 'FieldValueInvalid' : 'FieldValueForbidden', field: 'spec.fixedAddress.ip', message: `${rule}: what is wrong` }]);
      expect(JSON.stringify(verdict)).not.toMatch(/<nil>|undefined/);
    }
  });

  it('refuses invalid field values with 422 Invalid', () => {
    for (const rule of [RULES.replicas, RULES.sameNamespace, RULES.quantity]) {
      expect(verdictOf(deny('spec.x', rule, 'bad'))).toMatchObject({ allowed: false, status: { code: 422, reason: 'Invalid' } });
    }
    expect(verdictOf(deny('spec.size', RULES.quota, 'too big'))).toMatchObject({ status: { code: 403 } });
  });

  it('fails closed on the webhook\'s own problems, saying so', () => {
    expect(errorVerdict(503, 'starting')).toEqual({ allowed: false, status: { code: 503, reason: 'ServiceUnavailable', message: 'starting' } });
    expect(errorVerdict(500, 'bug')).toMatchObject({ status: { reason: 'InternalError' } });
  });
});

/**
 * The shared authenticator's own logic: what a TokenReview status vouches for, the bearer header,
 * the cache (one review per token, not per request; rejections cached too, failures not), and the
 * HTTP status of each outcome. The reviews against the real API server are in
 * test/integration/operator-endpoints.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { RequestParams } from './client.ts';
import { bearerTokenOf, checkRequest, identityOf, RequestAuthenticator, serviceAccountUsername } from './request-auth.ts';

/** Records the reviews asked for and answers them as `answer` says (a TokenReview or SubjectAccessReview status). */
function reviewer(answer: (params: RequestParams) => unknown) {
  const asked: RequestParams[] = [];
  return {
    asked,
    client: { request: async <T>(params: RequestParams): Promise<T> => { asked.push(params); return { status: answer(params) } as T; } },
  };
}

const user = { username: serviceAccountUsername('tenant-a', 'main-gateway'), uid: 'u1', groups: ['system:serviceaccounts'] };

describe('identityOf', () => {
  it('vouches only for an authenticated token meant for one of our audiences', () => {
    expect(identityOf({ authenticated: true, user, audiences: ['tenantbackup.io/key-service'] }, ['tenantbackup.io/key-service'])).toMatchObject({ username: 'system:serviceaccount:tenant-a:main-gateway' });
    expect(identityOf({ authenticated: false, user }, [])).toBeNull();
    expect(identityOf({ authenticated: true, user, audiences: ['https://kubernetes.default.svc'] }, ['tenantbackup.io/key-service'])).toBeNull();
    expect(identityOf({ authenticated: true, user: {} }, [])).toBeNull();
    expect(identityOf(undefined, [])).toBeNull();
  });
});

describe('bearerTokenOf', () => {
  it('takes the token of a Bearer header and nothing else', () => {
    expect(bearerTokenOf('Bearer abc.def-ghi')).toBe('abc.def-ghi');
    expect(bearerTokenOf('bearer abc')).toBe('abc');
    expect(bearerTokenOf('Basic dXNlcjpwdw==')).toBeUndefined();
    expect(bearerTokenOf('Bearer ')).toBeUndefined();
    expect(bearerTokenOf('Bearer a b')).toBeUndefined();
    expect(bearerTokenOf(undefined)).toBeUndefined();
  });
});

describe('RequestAuthenticator', () => {
  it('asks the API server once per token within the TTL, with our audiences, and again after it', async () => {
    let now = 0;
    const { asked, client } = reviewer(() => ({ authenticated: true, user, audiences: ['aud'] }));
    const auth = new RequestAuthenticator(client, { audiences: ['aud'], ttlMs: 1000, now: () => now });
    expect((await auth.authenticate('t1'))?.username).toBe(user.username);
    await auth.authenticate('t1');
    expect(asked).toHaveLength(1);
    expect(asked[0]?.body).toMatchObject({ kind: 'TokenReview', spec: { token: 't1', audiences: ['aud'] } });
    now = 1001;
    await auth.authenticate('t1');
    expect(asked).toHaveLength(2);
  });

  it('remembers a rejected token too, so garbage does not cost a review per request', async () => {
    const { asked, client } = reviewer(() => ({ authenticated: false }));
    const auth = new RequestAuthenticator(client);
    expect(await auth.authenticate('garbage')).toBeNull();
    expect(await auth.authenticate('garbage')).toBeNull();
    expect(asked).toHaveLength(1);
  });

  it('keeps at most maxEntries answers, dropping the oldest', async () => {
    const { asked, client } = reviewer(() => ({ authenticated: true, user }));
    const auth = new RequestAuthenticator(client, { maxEntries: 2 });
    for (const token of ['a', 'b', 'c', 'a']) await auth.authenticate(token);
    expect(asked.map((p) => (p.body as { spec: { token: string } }).spec.token)).toEqual(['a', 'b', 'c', 'a']);
  });

  it('authorizes with a SubjectAccessReview for the non-resource URL, as the identity', async () => {
    const { asked, client } = reviewer((params) => (params.path.includes('subjectaccessreviews') ? { allowed: true } : { authenticated: true, user }));
    const auth = new RequestAuthenticator(client);
    const identity = await auth.authenticate('t');
    expect(identity && (await auth.authorize(identity, { verb: 'get', path: '/metrics' }))).toBe(true);
    expect(asked[1]?.body).toMatchObject({ kind: 'SubjectAccessReview', spec: { user: user.username, uid: 'u1', groups: user.groups, nonResourceAttributes: { verb: 'get', path: '/metrics' } } });
  });
});

describe('checkRequest', () => {
  const answers = (allowed: boolean) => reviewer((params) => (params.path.includes('subjectaccessreviews') ? { allowed } : (params.body as { spec: { token: string } }).spec.token === 'good' ? { authenticated: true, user } : { authenticated: false }));

  it('says 401 without or with a bad token, 403 without the permission, ok with it', async () => {
    const denied = new RequestAuthenticator(answers(false).client);
    const allowed = new RequestAuthenticator(answers(true).client);
    const metrics = { verb: 'get', path: '/metrics' };
    expect(await checkRequest(allowed, undefined, metrics)).toMatchObject({ ok: false, status: 401 });
    expect(await checkRequest(allowed, 'Bearer bad', metrics)).toMatchObject({ ok: false, status: 401 });
    expect(await checkRequest(denied, 'Bearer good', metrics)).toEqual({ ok: false, status: 403, message: `${user.username} may not get /metrics` });
    expect(await checkRequest(allowed, 'Bearer good', metrics)).toMatchObject({ ok: true, identity: { username: user.username } });
  });

  it('says 503 when the API server cannot be asked, and does not repeat the token', async () => {
    const failing = new RequestAuthenticator({ request: async () => { throw Object.assign(new Error('POST tokenreviews: 500: token secret-token-value'), { code: 500 }); } });
    const verdict = await checkRequest(failing, 'Bearer secret-token-value');
    expect(verdict).toMatchObject({ ok: false, status: 503 });
    expect(JSON.stringify(verdict)).not.toContain('secret-token-value');
    // Not cached: the next request asks again.
    expect(await checkRequest(failing, 'Bearer secret-token-value')).toMatchObject({ status: 503 });
  });
});

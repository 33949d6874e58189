/**
 * Sign-in of a tenant's people on the human routes (S12): password, plus a TOTP code when the
 * tenant's policy is two-factor, or when the policy is one-factor and the user is enrolled anyway.
 * With policy `disabled` nobody signs in. Every refusal looks the same to the client (401, one
 * message), whether the user, the password or the code was wrong.
 *
 * A TOTP code is accepted once: the time step it matched is remembered per user, and a code of the
 * same or an earlier step is refused, so a code seen over someone's shoulder cannot be replayed
 * within its validity window. Guessing is bounded by a SignInThrottle: past a few failures the user
 * (and the client) is locked out for a growing time, and a locked attempt is refused unchecked.
 * Both the replay guard and the throttle are per process (per gateway replica) for now.
 */
import { totpTimeStep, verifyTotp, TOTP_PERIOD_SECONDS } from '../crypto/index.ts';
import type { HumanAccess } from './access-config.ts';
import type { AccessConfiguration } from './config.ts';
import type { CredentialCache } from './credential-cache.ts';
import type { SignInThrottle } from './sign-in-throttle.ts';

export interface SignInRequest {
  user: string;
  password: string;
  code?: string;
  /** The client's address, for the per-client bound on failures. */
  client?: string;
}

export type SignInResult =
  | { ok: true; user: HumanAccess }
  | { ok: false; reason: 'disabled' | 'credentials' }
  | { ok: false; reason: 'locked'; retryAfterMs: number };

export interface SignInGuards {
  replay: TotpReplayGuard;
  throttle: SignInThrottle;
  now?: number;
}

/** Steps either side of now that a code may come from (clock drift). */
const TOTP_WINDOW = 1;

export class TotpReplayGuard {
  readonly #lastStep = new Map<string, number>();

  /** The step `code` matches for `secret` near `now`, if it was not used before; null otherwise. */
  accept(user: string, secret: string, code: string, now = Date.now()): boolean {
    for (let offset = -TOTP_WINDOW; offset <= TOTP_WINDOW; offset++) {
      const at = now + offset * TOTP_PERIOD_SECONDS * 1000;
      if (!verifyTotp(secret, code, { now: at, window: 0 })) continue;
      const step = totpTimeStep(at);
      if (step <= (this.#lastStep.get(user) ?? -1)) return false;
      this.#lastStep.set(user, step);
      return true;
    }
    return false;
  }
}

/** Whether this user must present a TOTP code under the configuration's policy. */
export function requiresSecondFactor(config: AccessConfiguration, user: HumanAccess): boolean {
  const policy = config.access.humans.policy;
  return policy === 'two-factor' || (policy === 'one-factor' && user.totpSecret !== undefined);
}

export async function signIn(config: AccessConfiguration, credentials: CredentialCache, guards: SignInGuards, request: SignInRequest): Promise<SignInResult> {
  if (config.access.humans.policy === 'disabled') return { ok: false, reason: 'disabled' };
  const now = guards.now ?? Date.now();
  const verdict = guards.throttle.check(request.user, request.client, now);
  if (!verdict.allowed) return { ok: false, reason: 'locked', retryAfterMs: verdict.retryAfterMs };
  const result = await checkCredentials(config, credentials, guards.replay, request, now);
  if (result.ok) guards.throttle.succeeded(request.user);
  else guards.throttle.failed(request.user, request.client, now);
  return result;
}

async function checkCredentials(config: AccessConfiguration, credentials: CredentialCache, replay: TotpReplayGuard, request: SignInRequest, now: number): Promise<SignInResult> {
  const user = config.users.get(request.user);
  // The password is checked (against a decoy when the user is unknown) before anything else, so
  // every refusal costs the same time.
  const passwordOk = await credentials.check('human', request.user, request.password, user?.passwordHash ?? null);
  if (!passwordOk || user === undefined) return { ok: false, reason: 'credentials' };
  if (requiresSecondFactor(config, user)) {
    if (user.totpSecret === undefined || request.code === undefined) return { ok: false, reason: 'credentials' };
    try {
      if (!replay.accept(user.name, user.totpSecret, request.code, now)) return { ok: false, reason: 'credentials' };
    } catch {
      // A malformed enrolment secret is a configuration fault; the user still gets in only with a valid code.
      return { ok: false, reason: 'credentials' };
    }
  }
  return { ok: true, user };
}

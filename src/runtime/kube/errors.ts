/** Errors of the Kubernetes API, classified the way a reconciler needs them. */

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** metav1.Status, as the API server returns it with every error. */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { name?: string; group?: string; kind?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
}

export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly status: KubeStatus | undefined;

  constructor(method: string, path: string, code: number, status: KubeStatus | undefined, rawBody: string) {
    const detail = status?.message ?? rawBody.slice(0, 500);
    super(`${method} ${path}: ${code} ${status?.reason ?? ''}: ${detail}`.replace(/ {2,}/g, ' '));
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = status?.reason ?? '';
    this.status = status;
  }

  get causes(): StatusCause[] {
    return this.status?.details?.causes ?? [];
  }

  /** The API server's own message, without our method and path prefix. */
  get serverMessage(): string {
    return this.status?.message ?? this.message;
  }
}

export function isApiError(error: unknown, code?: number): error is KubeApiError {
  return error instanceof KubeApiError && (code === undefined || error.code === code);
}

export const isNotFound = (error: unknown): boolean => isApiError(error, 404);
export const isConflict = (error: unknown): boolean => isApiError(error, 409);
export const isGone = (error: unknown): boolean => isApiError(error, 410);
export const isInvalid = (error: unknown): boolean => isApiError(error, 422);
export const isForbidden = (error: unknown): boolean => isApiError(error, 403);

/**
 * A write into a namespace that is being deleted: nothing left to reconcile there, the namespace
 * controller is removing everything (the API server answers 403 with reason Forbidden).
 */
export function isNamespaceTerminating(error: unknown): boolean {
  return isApiError(error, 403) && error.serverMessage.includes('because it is being terminated');
}

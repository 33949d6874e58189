/**
 * The ValidatingWebhookConfiguration that routes the API server's admission requests to the webhook.
 * The operator owns and server-side applies it, so the CA bundle always matches the CA that signs
 * the serving certificate. Applying it is idempotent (same field manager, same content), so every
 * replica may do it.
 *
 * With cert-manager, the operator leaves `caBundle` alone and annotates the configuration with
 * `cert-manager.io/inject-ca-from: <namespace>/<Certificate name>`; cert-manager's CA injector fills
 * the bundle from that Certificate.
 */
import { GROUP } from '../api/resource.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, OPERATOR_NAME } from '../controllers/labels.ts';
import { applyObject, type ApplyObject } from '../runtime/apply.ts';
import type { KubeClient } from '../runtime/kube/client.ts';
import { K8S } from '../runtime/kube/resource-ref.ts';
import { base64 } from '../runtime/kube/secrets.ts';
import { WEBHOOK_ROUTES, webhookPath } from './validators.ts';

export const WEBHOOK_CONFIGURATION_NAME = OPERATOR_NAME;
export const CA_INJECT_ANNOTATION = 'cert-manager.io/inject-ca-from';
/** Port of the webhook Service (the chart maps it to the pod's --webhook-bind-address port). */
export const WEBHOOK_SERVICE_PORT = 443;
/** The API server waits at most this long for an answer; ours come from memory in microseconds. */
const TIMEOUT_SECONDS = 10;

/** Name of one webhook, as kubectl users see it: `admission webhook "<name>" denied the request`. */
export function webhookName(resource: string): string {
  return `validate.${resource}.${GROUP}`;
}

export type ClientTarget =
  | { service: { namespace: string; name: string; port: number } }
  /** Base URL (`https://127.0.0.1:9443`) of a webhook outside the cluster. */
  | { url: string };

export interface RegistrationOptions {
  target: ClientTarget;
  /** PEM of the CA that signs the serving certificate; absent when cert-manager injects it. */
  caBundle?: string;
  /** `<namespace>/<Certificate>` whose CA cert-manager injects. */
  injectCaFrom?: string;
}

export function desiredWebhookConfiguration(options: RegistrationOptions): ApplyObject {
  const caBundle = options.caBundle ? base64(options.caBundle) : undefined;
  const clientConfig = (resource: string) => ({
    ...('url' in options.target
      ? { url: `${options.target.url.replace(/\/+$/, '')}${webhookPath(resource)}` }
      : { service: { ...options.target.service, path: webhookPath(resource) } }),
    ...(caBundle ? { caBundle } : {}),
  });
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingWebhookConfiguration',
    metadata: {
      name: WEBHOOK_CONFIGURATION_NAME,
      labels: { [MANAGED_BY_LABEL]: MANAGED_BY },
      ...(options.injectCaFrom ? { annotations: { [CA_INJECT_ANNOTATION]: options.injectCaFrom } } : {}),
    },
    webhooks: WEBHOOK_ROUTES.map(({ resource, operations, scope }) => ({
      name: webhookName(resource),
      admissionReviewVersions: ['v1'],
      sideEffects: 'None',
      // Cross-object rules must hold: without the webhook, nothing of ours is admitted.
      failurePolicy: 'Fail',
      matchPolicy: 'Equivalent',
      timeoutSeconds: TIMEOUT_SECONDS,
      clientConfig: clientConfig(resource),
      rules: [{ apiGroups: [GROUP], apiVersions: ['*'], operations, resources: [resource], scope }],
    })),
  };
}

export async function registerWebhooks(client: KubeClient, options: RegistrationOptions): Promise<void> {
  await applyObject(client, K8S.ValidatingWebhookConfiguration, desiredWebhookConfiguration(options));
}

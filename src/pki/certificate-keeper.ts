/**
 * Keeps a serving certificate current for the life of the process: fetches (or issues) it, checks it
 * again periodically and whenever poked (its Secret changed), and hands every new certificate to the
 * server that uses it, so a renewal takes effect without a restart. Failures are retried with backoff
 * and never end the loop.
 */
import type { Logger } from 'pino';
import { sleep } from '../runtime/sleep.ts';
import { backoffDelay } from '../runtime/workqueue.ts';
import { fingerprint, type TlsMaterial } from './tls-secret.ts';

/** Where the certificate comes from: issued by the operator, or written by cert-manager. */
export interface CertificateSource {
  readonly description: string;
  /** The current certificate, renewed first if the source issues them; undefined if not there yet. */
  refresh(): Promise<TlsMaterial | undefined>;
}

export interface CertificateKeeperOptions {
  /** How often the certificate is checked without being poked. */
  intervalMs: number;
  logger: Logger;
  /** Called with each new certificate (including the first), before `afterRefresh`. */
  onCertificate(material: TlsMaterial): Promise<void> | void;
  /** Called after every successful refresh (e.g. to re-register the webhook); a throw means retry. */
  afterRefresh?(material: TlsMaterial): Promise<void> | void;
}

export class CertificateKeeper {
  private readonly source: CertificateSource;
  private readonly options: CertificateKeeperOptions;
  private material?: TlsMaterial;
  private wake?: () => void;
  private poked = false;

  constructor(source: CertificateSource, options: CertificateKeeperOptions) {
    this.source = source;
    this.options = options;
  }

  current(): TlsMaterial | undefined {
    return this.material;
  }

  /** Look again now (e.g. the Secret was changed or deleted). */
  poke(): void {
    this.poked = true;
    this.wake?.();
  }

  async run(signal: AbortSignal): Promise<void> {
    const { logger } = this.options;
    let failures = 0;
    while (!signal.aborted) {
      this.poked = false;
      let delay: number;
      try {
        const material = await this.source.refresh();
        if (!material) {
          logger.info({ source: this.source.description }, 'waiting for the serving certificate');
          delay = backoffDelay(failures++, { baseMs: 1000, maxMs: 30_000 });
        } else {
          if (material.certificate !== this.material?.certificate || material.privateKey !== this.material.privateKey) {
            await this.options.onCertificate(material);
            logger.info({ source: this.source.description, fingerprint: fingerprint(material.certificate) }, this.material ? 'serving certificate renewed' : 'serving certificate loaded');
            this.material = material;
          }
          await this.options.afterRefresh?.(material);
          failures = 0;
          delay = this.options.intervalMs;
        }
      } catch (error) {
        delay = backoffDelay(failures++, { baseMs: 1000, maxMs: 30_000 });
        logger.warn({ source: this.source.description, err: error instanceof Error ? error.message : String(error), retryInMs: delay }, 'could not refresh the serving certificate');
      }
      if (!this.poked) {
        const wake = new AbortController();
        this.wake = () => wake.abort();
        await sleep(delay, AbortSignal.any([signal, wake.signal]));
        this.wake = undefined;
      }
    }
  }
}

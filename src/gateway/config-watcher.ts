/**
 * Notices changes to the configuration directory and hands them over to be applied.
 *
 * Kubernetes updates a mounted Secret by swapping a symlink (`..data`) to a new directory, which
 * inotify-based watching misses or sees as a storm of events; polling the file contents every few
 * seconds is simple and sees every swap. A change is applied as a whole or not at all: if it is
 * rejected (bad JSON, failed checks, unreadable files mid-swap), the error is logged once and the
 * configuration in force stays; the next change is tried again. Requests in flight are not
 * affected: they already hold the configuration they started with.
 */
import type { Logger } from '../log/logger.ts';
import { digestOf, readConfigFiles, type ConfigFiles } from './config.ts';

export type PollResult = 'unchanged' | 'applied' | 'rejected';

export class ConfigWatcher {
  readonly #configDir: string;
  readonly #intervalMs: number;
  readonly #apply: (files: ConfigFiles) => void;
  readonly #log: Logger;
  readonly #onResult: (result: 'applied' | 'rejected') => void;
  /** Digest of the files in force, or of the last rejected set (so a rejection is logged once). */
  #seenDigest: string;
  #timer: NodeJS.Timeout | null = null;
  #polling = false;

  constructor(options: {
    configDir: string;
    intervalMs: number;
    initialDigest: string;
    apply: (files: ConfigFiles) => void;
    log: Logger;
    onResult: (result: 'applied' | 'rejected') => void;
  }) {
    this.#configDir = options.configDir;
    this.#intervalMs = options.intervalMs;
    this.#seenDigest = options.initialDigest;
    this.#apply = options.apply;
    this.#log = options.log;
    this.#onResult = options.onResult;
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.poll(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  async poll(): Promise<PollResult> {
    if (this.#polling) return 'unchanged';
    this.#polling = true;
    try {
      let files: ConfigFiles;
      try {
        files = await readConfigFiles(this.#configDir);
      } catch (error) {
        // Most likely caught in the middle of a symlink swap; the next poll will see the whole set.
        this.#log.debug({ err: error }, 'configuration files not readable right now; will retry');
        return 'unchanged';
      }
      const digest = digestOf(files);
      if (digest === this.#seenDigest) return 'unchanged';
      this.#seenDigest = digest;
      try {
        this.#apply(files);
      } catch (error) {
        this.#log.error({ err: error }, 'new configuration rejected; the previous one stays in force');
        this.#onResult('rejected');
        return 'rejected';
      }
      this.#log.info('configuration reloaded');
      this.#onResult('applied');
      return 'applied';
    } finally {
      this.#polling = false;
    }
  }
}

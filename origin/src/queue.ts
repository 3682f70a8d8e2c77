/**
 * The bounded transform queue: at most `concurrency` jobs run, at most `maxQueued` wait; a job
 * that finds the queue full is refused at once with 503 EBUSY + Retry-After instead of piling up
 * memory. Waiting jobs whose caller gave up (signal aborted) leave the queue.
 */
import { busy } from '../../shared/errors.js';

interface Waiter {
  start: () => void;
  reject: (e: unknown) => void;
}

export interface QueueObserver {
  onChange?(active: number, queued: number): void;
  onRejected?(): void;
  onWait?(ms: number): void;
}

export class TransformQueue {
  private active = 0;
  private readonly waiting: Waiter[] = [];
  rejected = 0;

  constructor(
    readonly concurrency: number,
    readonly maxQueued: number,
    private readonly observer: QueueObserver = {},
    /** Seconds suggested to clients in Retry-After. */
    readonly retryAfterSeconds = 1,
  ) {}

  get depth(): number {
    return this.waiting.length;
  }
  get running(): number {
    return this.active;
  }

  async run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const t0 = performance.now();
    if (this.active >= this.concurrency) {
      if (this.waiting.length >= this.maxQueued) {
        this.rejected++;
        this.observer.onRejected?.();
        throw busy(`transform queue full (${this.active} running, ${this.waiting.length} waiting)`, this.retryAfterSeconds, 503);
      }
      await new Promise<void>((resolve, reject) => {
        const w: Waiter = { start: resolve, reject };
        this.waiting.push(w);
        this.changed();
        signal?.addEventListener(
          'abort',
          () => {
            const i = this.waiting.indexOf(w);
            if (i >= 0) {
              this.waiting.splice(i, 1);
              this.changed();
              reject(busy('gave up waiting for a transform slot', this.retryAfterSeconds, 503));
            }
          },
          { once: true },
        );
      });
    } else {
      this.active++;
      this.changed();
    }
    this.observer.onWait?.(performance.now() - t0);
    try {
      return await job();
    } finally {
      const next = this.waiting.shift();
      if (next) next.start();
      else this.active--;
      this.changed();
    }
  }

  private changed(): void {
    this.observer.onChange?.(this.active, this.waiting.length);
  }
}

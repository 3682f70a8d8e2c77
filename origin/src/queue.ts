/**
 * The bounded transform queue: at most `concurrency` jobs run per lane, at most `maxQueued` wait;
 * a job that finds the queue full is refused at once with 503 EBUSY + Retry-After instead of
 * piling up memory. Waiting jobs whose caller gave up (signal aborted) leave the queue.
 *
 * Fair across tenants (#12 point 7), in two steps:
 *
 * - Lanes by cost. A render whose cost estimate is heavy (origin/src/budget.ts `isHeavy`) runs in
 *   the heavy lane, every other one in the cheap lane; each lane has `concurrency` slots of its
 *   own. Heavy renders run in a child process at a lower OS priority (pipeline/isolate.ts), so a
 *   cheap render that arrives while heavy ones hold every heavy slot starts at once and gets the
 *   CPU at once: the kernel preempts the heavy work for it. Work-conserving: with no cheap work
 *   the heavy renders use every core; memory stays bounded (cheap renders are cheap by their
 *   estimate; heavy ones are as many as before).
 * - A reserve slot in the cheap lane: a tenant with nothing running there may start one job past
 *   `concurrency`, so an account that arrives while others hold every cheap slot (a flood of
 *   medium renders just under the heavy estimate) starts at once instead of behind their renders.
 *   Work-conserving: one tenant alone still uses every slot; the reserve is one cheap render.
 * - Fair queuing inside a lane: waiting jobs are kept per tenant (account) and a free slot goes to
 *   the waiting tenant with the fewest jobs running in that lane (round-robin among equals), so a
 *   flood from one account waits behind itself, not in front of everyone; one tenant may also
 *   hold at most half of the waiting places.
 */
import { busy } from '../../shared/errors.js';

interface Waiter {
  tenant: string;
  start: () => void;
}

export interface QueueObserver {
  onChange?(active: number, queued: number): void;
  onRejected?(): void;
  onWait?(ms: number): void;
}

export type Lane = 'cheap' | 'heavy';

/** One lane's slots and its per-tenant waiting lists (pure bookkeeping: no timers, no I/O). */
class FairLane {
  active = 0;
  queued = 0;
  readonly waiting = new Map<string, Waiter[]>();
  readonly runningBy = new Map<string, number>();
  private turn = 0;

  constructor(
    readonly concurrency: number,
    /** Slots past `concurrency` for a tenant with nothing running in this lane (see TransformQueue). */
    readonly reserve = 0,
  ) {}

  /** Whether a job of `tenant` may start now. */
  admits(tenant: string): boolean {
    return this.active < this.concurrency || (this.runningFor(tenant) === 0 && this.active < this.concurrency + this.reserve);
  }

  runningFor(tenant: string): number {
    return this.runningBy.get(tenant) ?? 0;
  }
  waitingFor(tenant: string): number {
    return this.waiting.get(tenant)?.length ?? 0;
  }
  start(tenant: string): void {
    this.active++;
    this.runningBy.set(tenant, this.runningFor(tenant) + 1);
  }
  finish(tenant: string): void {
    this.active--;
    const left = this.runningFor(tenant) - 1;
    if (left > 0) this.runningBy.set(tenant, left);
    else this.runningBy.delete(tenant);
  }
  enqueue(w: Waiter): void {
    const list = this.waiting.get(w.tenant) ?? [];
    list.push(w);
    this.waiting.set(w.tenant, list);
    this.queued++;
  }
  /** Removes a waiter that gave up; false when it had started already. */
  remove(w: Waiter): boolean {
    const l = this.waiting.get(w.tenant);
    const i = l?.indexOf(w) ?? -1;
    if (!l || i < 0) return false;
    l.splice(i, 1);
    if (!l.length) this.waiting.delete(w.tenant);
    this.queued--;
    return true;
  }
  /** The next waiter that may start: the tenant with the fewest running jobs, round-robin among equals. */
  takeNext(): Waiter | undefined {
    const tenants = [...this.waiting.keys()];
    if (!tenants.length) return undefined;
    let best: string | undefined;
    let bestRunning = Infinity;
    for (let i = 0; i < tenants.length; i++) {
      const t = tenants[(this.turn + i) % tenants.length]!;
      const r = this.runningFor(t);
      if (r < bestRunning) {
        best = t;
        bestRunning = r;
      }
    }
    if (!this.admits(best!)) return undefined; // the fewest-running tenant may not: nobody may
    this.turn++;
    const list = this.waiting.get(best!)!;
    const w = list.shift()!;
    if (!list.length) this.waiting.delete(best!);
    this.queued--;
    return w;
  }
}

export class TransformQueue {
  private readonly lanes: Record<Lane, FairLane>;
  rejected = 0;

  constructor(
    readonly concurrency: number,
    readonly maxQueued: number,
    private readonly observer: QueueObserver = {},
    /** Seconds suggested to clients in Retry-After. */
    readonly retryAfterSeconds = 1,
    /** Extra cheap-lane slots for a tenant with nothing running there (the transform queue: 1). */
    reserve = 0,
  ) {
    this.lanes = { cheap: new FairLane(concurrency, reserve), heavy: new FairLane(concurrency) };
  }

  get depth(): number {
    return this.lanes.cheap.queued + this.lanes.heavy.queued;
  }
  get running(): number {
    return this.lanes.cheap.active + this.lanes.heavy.active;
  }
  /** Jobs of one tenant running now (both lanes). */
  runningFor(tenant: string): number {
    return this.lanes.cheap.runningFor(tenant) + this.lanes.heavy.runningFor(tenant);
  }

  /**
   * Runs `job` in a slot of `laneName`; `job` is told whether it had to wait for the slot (false:
   * it started at once — the reliability suite checks a quiet tenant's renders never wait during
   * another tenant's flood, render.ts reports it in Server-Timing `queue;desc`).
   */
  async run<T>(job: (waited: boolean) => Promise<T>, signal?: AbortSignal, tenant = '', laneName: Lane = 'cheap'): Promise<T> {
    const t0 = performance.now();
    const lane = this.lanes[laneName];
    const waited = !lane.admits(tenant);
    if (waited) {
      const mine = lane.waitingFor(tenant);
      const tenantCap = Math.max(1, Math.ceil(this.maxQueued / 2));
      if (this.depth >= this.maxQueued || (tenant !== '' && mine >= tenantCap)) {
        this.rejected++;
        this.observer.onRejected?.();
        throw busy(
          this.depth >= this.maxQueued
            ? `transform queue full (${this.running} running, ${this.depth} waiting)`
            : `too many transforms waiting for this account (${mine})`,
          this.retryAfterSeconds,
          503,
        );
      }
      await new Promise<void>((resolve, reject) => {
        const w: Waiter = { tenant, start: resolve };
        lane.enqueue(w);
        this.changed();
        signal?.addEventListener(
          'abort',
          () => {
            if (!lane.remove(w)) return;
            this.changed();
            reject(busy('gave up waiting for a transform slot', this.retryAfterSeconds, 503));
          },
          { once: true },
        );
      });
    } else {
      lane.start(tenant);
      this.changed();
    }
    this.observer.onWait?.(performance.now() - t0);
    try {
      return await job(waited);
    } finally {
      lane.finish(tenant);
      for (let next = lane.takeNext(); next; next = lane.takeNext()) {
        lane.start(next.tenant);
        next.start();
      }
      this.changed();
    }
  }

  private changed(): void {
    this.observer.onChange?.(this.running, this.depth);
  }
}

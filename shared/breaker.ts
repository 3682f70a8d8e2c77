/**
 * A circuit breaker per region (docs/routing.md "Health"). Pure and immutable: every function
 * takes the state and an injected clock (`now`, ms) and returns a new state, so the edge can keep
 * one per region in memory, show it on /_routing and persist it as JSON.
 *
 *   closed ──(failureThreshold consecutive failures)──► open
 *   open ──(cool-down elapsed)──► half-open: exactly one trial request may go
 *   half-open trial ── success ──► closed (cool-down reset)
 *                   ── failure ──► open again, cool-down doubled (capped)
 *   a trial that never reports back frees the slot after trialLeaseMs
 *
 * Failures are 5xx answers, timeouts and network errors. 4xx answers prove the region is up and
 * count as successes, except 429 (overloaded), which counts neither way.
 */
import { REGION_IDS, type RegionId } from './regions.js';

export interface BreakerConfig {
  /** Consecutive failures that open the breaker. */
  failureThreshold: number;
  /** First cool-down after opening, ms. */
  coolDownMs: number;
  /** Cool-downs double after each failed trial, up to this, ms. */
  maxCoolDownMs: number;
  /** A trial that has not reported after this long no longer blocks the next one, ms. */
  trialLeaseMs: number;
}

export const DEFAULT_BREAKER_CONFIG: Readonly<BreakerConfig> = {
  failureThreshold: 5,
  coolDownMs: 10_000,
  maxCoolDownMs: 120_000,
  trialLeaseMs: 15_000,
};

export interface BreakerState {
  /** Consecutive failures since the last success. */
  failures: number;
  /** When the breaker opened (ms), or null while closed. */
  openedAt: number | null;
  /** Length of the current cool-down, ms (0 while closed). */
  coolDownMs: number;
  /** When the half-open trial was handed out (ms), or null. */
  trialAt: number | null;
  lastFailureAt: number | null;
  lastSuccessAt: number | null;
}

/**
 * What the breaker says right now:
 * - closed: send traffic;
 * - half-open: cooled down and no trial in flight: one request may try (beginAttempt claims it);
 * - open: do not send traffic (cooling down, or the trial is in flight).
 */
export type BreakerStatus = 'closed' | 'half-open' | 'open';

export type AttemptOutcome = 'success' | 'failure' | 'neutral';

export function newBreaker(): BreakerState {
  return { failures: 0, openedAt: null, coolDownMs: 0, trialAt: null, lastFailureAt: null, lastSuccessAt: null };
}

export function breakerStatus(s: BreakerState, now: number, cfg: BreakerConfig = DEFAULT_BREAKER_CONFIG): BreakerStatus {
  if (s.openedAt === null) return 'closed';
  if (now - s.openedAt < s.coolDownMs) return 'open';
  if (s.trialAt !== null && now - s.trialAt < cfg.trialLeaseMs) return 'open';
  return 'half-open';
}

/**
 * Call before sending a request to the region. `allowed` is false while open; in half-open the
 * first caller gets `trial: true` and the slot is taken until it reports (or the lease ends).
 */
export function beginAttempt(
  s: BreakerState,
  now: number,
  cfg: BreakerConfig = DEFAULT_BREAKER_CONFIG,
): { state: BreakerState; allowed: boolean; trial: boolean } {
  const status = breakerStatus(s, now, cfg);
  if (status === 'closed') return { state: s, allowed: true, trial: false };
  if (status === 'open') return { state: s, allowed: false, trial: false };
  return { state: { ...s, trialAt: now }, allowed: true, trial: true };
}

/** Map an answer to an outcome: a status code, or 'timeout' / 'network-error'. */
export function classifyOutcome(result: number | 'timeout' | 'network-error'): AttemptOutcome {
  if (result === 'timeout' || result === 'network-error') return 'failure';
  if (!Number.isInteger(result) || result < 100 || result > 599) return 'failure';
  if (result >= 500) return 'failure';
  if (result === 429) return 'neutral';
  return 'success';
}

/** Fold the outcome of an attempt into the breaker. */
export function recordOutcome(
  s: BreakerState,
  outcome: AttemptOutcome,
  now: number,
  cfg: BreakerConfig = DEFAULT_BREAKER_CONFIG,
): BreakerState {
  if (outcome === 'neutral') {
    // The trial slot is released so the next request may try again.
    return s.trialAt !== null ? { ...s, trialAt: null } : s;
  }
  if (outcome === 'success') {
    return { failures: 0, openedAt: null, coolDownMs: 0, trialAt: null, lastFailureAt: s.lastFailureAt, lastSuccessAt: now };
  }
  const failures = s.failures + 1;
  if (s.openedAt === null) {
    if (failures < cfg.failureThreshold) return { ...s, failures, lastFailureAt: now };
    return { ...s, failures, lastFailureAt: now, openedAt: now, coolDownMs: cfg.coolDownMs, trialAt: null };
  }
  if (s.trialAt !== null) {
    // The trial failed: open again for a longer cool-down.
    return { ...s, failures, lastFailureAt: now, openedAt: now, coolDownMs: Math.min(cfg.maxCoolDownMs, Math.max(cfg.coolDownMs, s.coolDownMs * 2)), trialAt: null };
  }
  // A late failure from a request sent before the breaker opened: the breaker already knows.
  return { ...s, failures, lastFailureAt: now };
}

/** One breaker per region. */
export type Breakers = Record<RegionId, BreakerState>;

export function newBreakers(): Breakers {
  return Object.fromEntries(REGION_IDS.map((id) => [id, newBreaker()])) as Breakers;
}

/** The status of every region, the health input of the routing model. */
export function breakerStatuses(b: Breakers, now: number, cfg: BreakerConfig = DEFAULT_BREAKER_CONFIG): Record<RegionId, BreakerStatus> {
  return Object.fromEntries(REGION_IDS.map((id) => [id, breakerStatus(b[id], now, cfg)])) as Record<RegionId, BreakerStatus>;
}

/**
 * Breakers keyed by name with their state held inside, for callers that keep one mutable set
 * (the origin: one per home region it forwards to). Same machine as above.
 */
export class BreakerSet {
  private readonly states = new Map<string, BreakerState>();
  constructor(
    readonly config: BreakerConfig = DEFAULT_BREAKER_CONFIG,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Before a call: null when it may go — in half-open this TAKES the one trial lease, so every
   * other caller is refused until it reports (or the lease ends); otherwise the reason it may not.
   */
  takeAttemptLease(key: string): string | null {
    const s = this.states.get(key) ?? newBreaker();
    const now = this.now();
    const r = beginAttempt(s, now, this.config);
    this.states.set(key, r.state);
    if (r.allowed) return null;
    if (s.openedAt !== null && now - s.openedAt < s.coolDownMs)
      return `circuit open for ${Math.ceil((s.openedAt + s.coolDownMs - now) / 1000)} s after ${s.failures} failure(s)`;
    return 'circuit half-open: a trial call is in progress';
  }

  record(key: string, outcome: AttemptOutcome): void {
    this.states.set(key, recordOutcome(this.states.get(key) ?? newBreaker(), outcome, this.now(), this.config));
  }

  status(key: string): BreakerStatus {
    return breakerStatus(this.states.get(key) ?? newBreaker(), this.now(), this.config);
  }
}

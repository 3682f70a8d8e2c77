/**
 * When each request reached the app (set by the first middleware), so `proc` covers auth, routing
 * and queueing too: the edge subtracts `proc` from its time to headers to learn the network RTT.
 */
export const arrivals = new WeakMap<Request, number>();

/** How a render request was answered, for the access log, metrics and usage (set by render.ts, read after the handler; no response header is parsed back). */
export interface RenderOutcome {
  cache: 'hit' | 'miss' | 'forward' | 'failover' | 'not-modified';
  /** Body bytes sent (0 for a 304). */
  bytes: number;
}
export const renderOutcomes = new WeakMap<Request, RenderOutcome>();

/** Collects Server-Timing entries for one request. */
export class ServerTiming {
  private readonly entries: string[] = [];

  constructor(private readonly start = performance.now()) {}

  add(name: string, durMs?: number, desc?: string): void {
    let e = name;
    if (durMs !== undefined) e += `;dur=${durMs.toFixed(1)}`;
    if (desc !== undefined) e += `;desc="${desc.replace(/["\\]/g, '')}"`;
    this.entries.push(e);
  }

  async time<T>(name: string, fn: () => Promise<T>, desc?: string): Promise<T> {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      this.add(name, performance.now() - t0, desc);
    }
  }

  /** `proc` is the total time spent inside this region: the edge subtracts it to learn network RTT. */
  header(): string {
    return [...this.entries, `proc;dur=${(performance.now() - this.start).toFixed(1)}`].join(', ');
  }
}

/** Middleware refusing internal calls without a valid, fresh, never-seen signature. */
import type { MiddlewareHandler } from 'hono';
import { verifyInternalRequest, DEFAULT_WINDOW_MS } from '../../shared/internal-auth.js';
import { PixmeshError } from '../../shared/errors.js';

/** Nonces seen inside the time window; bounded by the window (entries expire) and a hard cap. */
export class NonceMemory {
  private readonly seen = new Map<string, number>();
  constructor(
    private readonly windowMs = DEFAULT_WINDOW_MS,
    private readonly cap = 200_000,
  ) {}
  /** true when the nonce is new (and remembers it). */
  remember(nonce: string, now = Date.now()): boolean {
    if (this.seen.has(nonce)) return false;
    if (this.seen.size >= this.cap) this.prune(now);
    this.seen.set(nonce, now);
    return true;
  }
  private prune(now: number): void {
    for (const [n, t] of this.seen) if (now - t > 2 * this.windowMs) this.seen.delete(n);
    // Still full: the oldest go first (Map keeps insertion order).
    for (const n of this.seen.keys()) {
      if (this.seen.size < this.cap) break;
      this.seen.delete(n);
    }
  }
}

/** Where nonces are remembered: this process (NonceMemory) or the whole region (origin/src/region/nonces.ts). */
export interface NonceCheck {
  /** true when the nonce is new (and remembers it). */
  remember(nonce: string): boolean | Promise<boolean>;
}

export function requireInternalAuth(secret: string, nonces: NonceCheck = new NonceMemory()): MiddlewareHandler {
  return async (c, next) => {
    const url = new URL(c.req.url);
    const result = await verifyInternalRequest(secret, c.req.method, url.pathname + url.search, c.req.raw.headers);
    if (!result.ok) throw new PixmeshError(401, 'EAUTH', `internal call refused: ${result.reason}`);
    if (!(await nonces.remember(result.nonce))) throw new PixmeshError(401, 'EAUTH', 'internal call refused: replayed request');
    await next();
  };
}

/**
 * Region-cache hit answers prepared by render.ts for the hit path (../hit-path.ts), by the raw
 * call's identity; bounded (the oldest go first).
 */
import type { Account } from '../../../shared/accounts.js';
import { H } from '../../../shared/headers.js';
import type { CacheEntry } from './result-cache.js';

export interface PreparedHit {
  account: Account;
  /** The memory-tier entry and its key hash. */
  entry: CacheEntry;
  hash: string;
  /** Everything but the per-request headers (region cache state, replica, hit ratio, Server-Timing). */
  headers: Record<string, string>;
}

const BOUND = 4096;

/** The raw call's identity: the path and query as sent, and every header the variant is parsed from. */
export function hitIdentity(url: string, get: (name: string) => string | null | undefined): string {
  return hitIdentityOf(url, get(H.format), get(H.signed), get(H.encoding), get(H.dpr), get(H.width));
}

/** hitIdentity from the header values themselves (the hit path reads them from the raw request: ../hit-path.ts). */
export function hitIdentityOf(url: string, format: string | null | undefined, signed: string | null | undefined, encoding: string | null | undefined, dpr: string | null | undefined, width: string | null | undefined): string {
  return `${url}\n${format ?? ''}\n${signed ?? ''}\n${encoding ?? ''}\n${dpr ?? ''}\n${width ?? ''}`;
}

/** Prepared hit answers by call identity, bounded (the oldest go first). */
export class HitAnswers {
  private readonly byIdentity = new Map<string, PreparedHit>();

  remember(identity: string, hit: PreparedHit): void {
    this.byIdentity.delete(identity);
    this.byIdentity.set(identity, hit);
    if (this.byIdentity.size > BOUND) this.byIdentity.delete(this.byIdentity.keys().next().value!);
  }

  get(identity: string): PreparedHit | undefined {
    return this.byIdentity.get(identity);
  }

  forget(identity: string): void {
    this.byIdentity.delete(identity);
  }

  get size(): number {
    return this.byIdentity.size;
  }
}

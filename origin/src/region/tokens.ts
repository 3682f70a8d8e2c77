/**
 * Used client-side upload tokens, remembered by the region: this replica's memory first, then
 * `tokens/<account>/<sha256(token)>` in the region's bucket. Uploads of an account all reach the
 * account's owner replica (one writer per library, see media forwarding in app.ts), so claims are
 * serialised there; the bucket carries them over to the next owner when that one goes away, and
 * over restarts. Objects are swept two hours after they were written (a token lives ≤ 1 h).
 */
import { TokenMemory, type TokenClaims } from '../media/client-auth.js';
import { busy } from '../../../shared/errors.js';
import { log } from '../log.js';
import { sha256, type RegionBucket } from './bucket.js';

export const TOKEN_PREFIX = 'tokens/';
export const TOKEN_RETENTION_MS = 2 * 3600_000;

export class SharedTokens implements TokenClaims {
  private readonly memory = new TokenMemory();
  /** Per token: one claim at a time in this process. */
  private readonly pending = new Map<string, Promise<boolean>>();

  constructor(private readonly bucket: () => RegionBucket | null) {}

  claim(accountId: string, token: string, expireS: number, nowS = Date.now() / 1000): Promise<boolean> {
    const id = `${accountId}\n${token}`;
    const prev = this.pending.get(id) ?? Promise.resolve(true);
    const next = prev.then(() => this.claimOnce(accountId, token, expireS, nowS));
    this.pending.set(id, next);
    void next.finally(() => this.pending.get(id) === next && this.pending.delete(id));
    return next;
  }

  private async claimOnce(accountId: string, token: string, expireS: number, nowS: number): Promise<boolean> {
    if (!this.memory.claim(accountId, token, expireS, nowS)) return false;
    const bucket = this.bucket();
    if (!bucket) return true;
    const key = `${TOKEN_PREFIX}${accountId}/${sha256(token)}`;
    try {
      if (await bucket.exists(key)) return false;
      await bucket.put(key, String(expireS), 'text/plain');
      return true;
    } catch (e) {
      // A bucket we cannot reach refuses the upload for now: better a retry than a possible replay.
      throw busy(`upload tokens cannot be checked right now (${(e as Error).name ?? 'S3 error'})`, 2, 503);
    }
  }

  /** Removes token records past their retention (the sweeping replica). */
  static async expire(bucket: RegionBucket, now = Date.now()): Promise<number> {
    const old = (await bucket.list(TOKEN_PREFIX)).filter((o) => now - o.lastModified > TOKEN_RETENTION_MS).map((o) => o.key);
    await bucket.deleteMany(old).catch((e) => log.warn('tokens: sweep failed', { err: String(e) }));
    return old.length;
  }
}

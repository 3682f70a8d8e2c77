/**
 * Usage (accounts.usage.get): bytes each region delivers to the edge per account and day, kept
 * durable in the account's HOME bucket as `_usage/<account>/<YYYY-MM-DD>/<region>.json` (each
 * region writes only its own key, so there is one writer per object). A region adds what it
 * counted every PIXMESH_USAGE_FLUSH_MS (10 s) to the stored total it read first, so a restart
 * loses at most that interval. The home region sums the regions' keys for the asked range, and
 * its media library's bytes (current files and kept versions).
 *
 * Counted: render answers to the edge (not region → home hops, which would count twice, nor the
 * edge's background fills, H.fill, which deliver nothing to a user). Edge cache hits are not seen
 * by any region and are not counted.
 */
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { MiddlewareHandler } from 'hono';
import { badRequest } from '../../../shared/errors.js';
import { renderOutcomes } from '../server-timing.js';
import { H } from '../../../shared/headers.js';
import type { AccountDirectory } from '../accounts.js';
import { mediaBucketFor, type ServerConfig } from '../config.js';
import { log } from '../log.js';
import { s3Client } from '../sources/s3.js';

export const USAGE_PREFIX = '_usage';
/** ImageKit: the range may span at most 90 days. */
export const MAX_USAGE_DAYS = 90;
const DAY_MS = 86_400_000;

const usageKey = (accountId: string, day: string, region: string) => `${USAGE_PREFIX}/${accountId}/${day}/${region}.json`;

/** Parses ImageKit's YYYY-MM-DD range; 400 naming the bad field. Both ends are included. */
export function usageRange(startDate: string | undefined, endDate: string | undefined): { start: string; end: string } {
  const day = (v: string | undefined, name: string) => {
    if (!v || !/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))) throw badRequest(`${name} is required as YYYY-MM-DD`);
    return v;
  };
  const start = day(startDate, 'startDate');
  const end = day(endDate, 'endDate');
  const span = (Date.parse(`${end}T00:00:00Z`) - Date.parse(`${start}T00:00:00Z`)) / DAY_MS;
  if (span < 0) throw badRequest('endDate must not be before startDate');
  if (span > MAX_USAGE_DAYS) throw badRequest(`the range from startDate to endDate may span at most ${MAX_USAGE_DAYS} days`);
  return { start, end };
}

/**
 * Whether a render call's answer is delivery to a user, counted as usage: not a region → home hop
 * (counted where it was asked), nor a background fill (delivers nothing). The one rule for the
 * app's middleware and the raw hit path (../hit-path.ts); `header` is absent (undefined/null) when not sent.
 */
export const deliversToUser = (header: (name: string) => string | null | undefined): boolean => header(H.hop) == null && header(H.fill) == null;

export class UsageMeter {
  private readonly client: S3Client;
  /** `${account}\n${day}` → bytes counted since the last flush. */
  private readonly pending = new Map<string, number>();
  /** Same key → the stored total (read before the first write of that key). */
  private readonly stored = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly config: ServerConfig,
    private readonly accounts: AccountDirectory,
    flushMs = config.media.usageFlushMs,
  ) {
    this.client = s3Client(config.s3);
    this.timer = setInterval(() => void this.flush().catch((e) => log.warn('usage flush failed', { err: String(e) })), flushMs);
    this.timer.unref();
  }

  count(accountId: string, bytes: number, at?: Date): void {
    if (!this.accounts.get(accountId) || !(bytes > 0)) return;
    const key = `${accountId}\n${at ? at.toISOString().slice(0, 10) : this.today()}`;
    this.pending.set(key, (this.pending.get(key) ?? 0) + bytes);
  }

  /** The UTC day (YYYY-MM-DD) now, formatted once per day rather than once per counted answer. */
  private day = { until: 0, name: '' };
  private today(now = Date.now()): string {
    if (now >= this.day.until || now < this.day.until - DAY_MS) {
      const start = now - (now % DAY_MS);
      this.day = { until: start + DAY_MS, name: new Date(start).toISOString().slice(0, 10) };
    }
    return this.day.name;
  }

  /** Counts what /internal/render answers to the edge (content-length of a 200). */
  middleware(): MiddlewareHandler {
    return async (c, next) => {
      await next();
      if (!deliversToUser((n) => c.req.header(n)) || c.res.status !== 200) return;
      const account = decodeURIComponent(c.req.path.split('/')[3] ?? '');
      // render.ts records the bytes it sent (its response headers are not parsed back)
      this.count(account, renderOutcomes.get(c.req.raw)?.bytes ?? Number(c.res.headers.get('content-length') ?? 0));
    };
  }

  private async readBytes(bucket: string, key: string): Promise<number> {
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (JSON.parse(await out.Body!.transformToString('utf8')) as { bandwidthBytes?: number }).bandwidthBytes ?? 0;
    } catch (e) {
      if ((e as { name?: string }).name === 'NoSuchKey') return 0;
      throw e;
    }
  }

  async flush(): Promise<void> {
    const work = [...this.pending];
    this.pending.clear();
    for (const [key, bytes] of work) {
      const [accountId, day] = key.split('\n') as [string, string];
      const account = this.accounts.get(accountId);
      if (!account) continue;
      const bucket = mediaBucketFor(account.homeRegion);
      const objectKey = usageKey(accountId, day, this.config.region);
      try {
        const before = this.stored.get(key) ?? (await this.readBytes(bucket, objectKey));
        const total = before + bytes;
        await this.client.send(new PutObjectCommand({ Bucket: bucket, Key: objectKey, Body: JSON.stringify({ bandwidthBytes: total, region: this.config.region, day }), ContentType: 'application/json' }));
        this.stored.set(key, total);
      } catch (e) {
        this.pending.set(key, (this.pending.get(key) ?? 0) + bytes); // kept for the next flush
        throw e;
      }
    }
  }

  /** At home: the bandwidth every region stored for the account's days in [start, end]. */
  async bandwidth(accountId: string, start: string, end: string): Promise<number> {
    await this.flush().catch(() => undefined);
    let total = 0;
    let token: string | undefined;
    do {
      const out = await this.client.send(new ListObjectsV2Command({ Bucket: this.config.mediaBucket, Prefix: `${USAGE_PREFIX}/${accountId}/`, ContinuationToken: token }));
      for (const o of out.Contents ?? []) {
        const day = o.Key!.split('/')[2]!;
        if (day >= start && day <= end) total += await this.readBytes(this.config.mediaBucket, o.Key!);
      }
      token = out.IsTruncated ? out.NextContinuationToken : undefined;
    } while (token);
    return total;
  }

  close(): void {
    clearInterval(this.timer);
  }
}

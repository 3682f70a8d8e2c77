/**
 * Originals: the endpoint's origins tried in order (media library first where listed), first hit
 * wins; none → ENOENT. Each origin type lives in its own module. `OriginalStore` adds the
 * in-memory originals cache and per-original singleflight, so concurrent and successive variants
 * of one original fetch it once.
 */
import type { Account, Endpoint, SourceConfig } from '../../../shared/accounts.js';
import { isPixmeshError, limitExceeded, notFound, upstreamFailed } from '../../../shared/errors.js';
import { OriginalsCache } from '../cache/originals-cache.js';
import { SingleFlight } from '../coalesce.js';
import { mediaBucketFor, type ServerConfig } from '../config.js';
import type { OriginMetrics } from '../metrics.js';
import { indexKey, mediaKey, versionKey } from '../media/keys.js';
import { getS3Object, type S3Object } from './s3.js';
import type { FetchLimits, Original } from './types.js';
import { SafeFetchError } from './safe-fetch.js';
import { fetchFromWeb, fetchFromWebProxy, fromFetchError } from './web.js';

export type { Original } from './types.js';

export interface FetchOriginalInput {
  account: Account;
  endpoint: Endpoint;
  path: string;
  /** Query parameters of the public URL other than tr/ik-s/ik-t (web and web-proxy origins receive them). */
  extraQuery?: [string, string][];
  /** The edge verified the URL signature. */
  signed?: boolean;
  maxBytes: number;
  signal?: AbortSignal;
}

export { mediaKey };

/** `?ik-obj-version=<versionId>`: a previous version of a media-library file (the URL versions.list answers). */
export const VERSION_QUERY = 'ik-obj-version';

/** One S3 read (request + body) may take as long as a web fetch's three phases together. */
const s3TimeoutMs = (region: ServerConfig) => region.fetch.connectTimeoutMs + region.fetch.headerTimeoutMs + region.fetch.bodyTimeoutMs;

function limitsFor(input: FetchOriginalInput, region: ServerConfig): FetchLimits {
  return { maxBytes: input.maxBytes, fetch: region.fetch, signal: input.signal };
}

async function tryOrigin(origin: SourceConfig, input: FetchOriginalInput, region: ServerConfig): Promise<Original | null> {
  switch (origin.type) {
    case 'media': {
      // The account's media library lives in its home region's bucket (the same as ours at home;
      // read from there on failover), with the backup region's copy as a second chance.
      const home = input.account.homeRegion === region.region ? region.mediaBucket : mediaBucketFor(input.account.homeRegion);
      const read = async (key: string, maxBytes = input.maxBytes): Promise<S3Object | null> => {
        try {
          return await getS3Object(region.s3, home, key, maxBytes, s3TimeoutMs(region));
        } catch (e) {
          if (!input.account.backupRegion || (e as { code?: string }).code === 'ELIMIT') throw e;
          return getS3Object(region.s3, mediaBucketFor(input.account.backupRegion), key, maxBytes, s3TimeoutMs(region));
        }
      };
      const version = input.extraQuery?.find(([k]) => k === VERSION_QUERY)?.[1];
      let obj = await read(mediaKey(input.account.id, input.path));
      if (obj && version !== undefined) obj = await previousVersion(obj, version, input.account.id, read);
      return obj && { body: obj.body, contentType: obj.contentType, source: 'media', isPrivate: obj.metadata.isprivatefile === 'true', lastModified: obj.lastModified };
    }
    case 's3': {
      const key = origin.prefix ? `${origin.prefix.replace(/\/+$/, '')}/${input.path}` : input.path;
      const obj = await getS3Object(origin, origin.bucket, key, input.maxBytes, s3TimeoutMs(region)).catch((e: unknown) => {
        // A customer's S3-compatible endpoint on a refused address (its client's guarded connections).
        const cause = e instanceof SafeFetchError ? e : (e as { cause?: unknown })?.cause;
        throw cause instanceof SafeFetchError ? fromFetchError(cause) : e;
      });
      return obj && { body: obj.body, contentType: obj.contentType, source: `s3:${origin.bucket}`, isPrivate: obj.metadata.isprivatefile === 'true', lastModified: obj.lastModified };
    }
    case 'web':
      if (/^[a-z][a-z0-9+.-]*:/i.test(input.path)) return null; // an absolute URL is for a web proxy
      return fetchFromWeb(origin, input.path, input.extraQuery ?? [], limitsFor(input, region));
    case 'webproxy':
      return fetchFromWebProxy(origin, input.path, input.extraQuery ?? [], input.signed === true, limitsFor(input, region));
  }
}

/**
 * The version `versionId` of the file whose current bytes are `current` (their S3 metadata names
 * the fileId): a kept previous version's bytes, the current bytes when it is the current version,
 * or null (not found: a deleted or unknown version).
 */
async function previousVersion(current: S3Object, versionId: string, accountId: string, read: (key: string, maxBytes?: number) => Promise<S3Object | null>): Promise<S3Object | null> {
  const fileId = current.metadata.fileid ?? '';
  if (!/^[0-9a-f]{24}$/.test(fileId) || !/^[0-9a-f]{24}$/.test(versionId)) return null;
  const kept = await read(versionKey(accountId, fileId, versionId));
  if (kept) return kept;
  const record = await read(indexKey(accountId, fileId), 4 * 1024 * 1024);
  let currentId: unknown;
  try {
    currentId = record && (JSON.parse(record.body.toString('utf8')) as { versionInfo?: { id?: unknown } }).versionInfo?.id;
  } catch {
    currentId = undefined;
  }
  return currentId === versionId ? current : null;
}

/**
 * Try the endpoint's origins in order. A definite refusal (403 / 401 / a limit) stops the search;
 * an origin failing (5xx, timeout, unreachable) lets the next one try, and is reported only if
 * none has the file.
 */
export async function fetchOriginal(input: FetchOriginalInput, region: ServerConfig, metrics?: OriginMetrics): Promise<Original> {
  let lastError: unknown;
  for (const origin of input.endpoint.origins) {
    try {
      const found = await tryOrigin(origin, input, region);
      metrics?.originFetches.inc({ source: origin.type, outcome: found ? 'found' : 'missing' });
      if (found) {
        metrics?.bytesIn.inc({ source: origin.type }, found.body.length);
        return found;
      }
    } catch (e) {
      metrics?.originFetches.inc({ source: origin.type, outcome: 'error' });
      if ((e as { code?: string }).code === 'ELIMIT' && !isPixmeshError(e)) throw limitExceeded((e as Error).message, 413);
      if (isPixmeshError(e) && e.code !== 'EUPSTREAM') throw e;
      lastError = e;
    }
  }
  if (lastError) {
    // The customer's origins failed: every region would meet the same failure (x-pixmesh-error-scope: request).
    if (isPixmeshError(lastError)) throw lastError.requestScoped();
    const timedOut = (lastError as { code?: string }).code === 'ETIMEDOUT';
    throw upstreamFailed(`every origin failed; last error: ${(lastError as Error).message ?? String(lastError)}`, timedOut ? 504 : 502).requestScoped();
  }
  throw notFound();
}

/** Originals cache + singleflight in front of fetchOriginal. */
export class OriginalStore {
  readonly cache: OriginalsCache;
  private readonly flights: SingleFlight<Original>;
  /** Bumped by purge: a fetch that started earlier does not fill the cache, and later callers do not join it. */
  private epoch = 0;

  constructor(
    private readonly region: ServerConfig,
    private readonly metrics?: OriginMetrics,
  ) {
    this.cache = new OriginalsCache(region.originalsCacheBytes, region.originalsCacheTtlMs);
    this.flights = new SingleFlight<Original>(() => metrics?.coalesced.inc({ kind: 'original' }));
  }

  static key(input: Pick<FetchOriginalInput, 'account' | 'endpoint' | 'path' | 'extraQuery'>): string {
    return [input.account.id, input.endpoint.prefix, input.path, new URLSearchParams(input.extraQuery ?? []).toString()].join('\n');
  }

  async get(input: FetchOriginalInput): Promise<Original> {
    const key = OriginalStore.key(input);
    const cached = this.cache.get(key);
    if (cached) {
      this.metrics?.originFetches.inc({ source: 'cache', outcome: 'found' });
      return cached;
    }
    // The signature state is part of the flight: an unsigned caller's refusal is never shared with a signed one.
    const epoch = this.epoch;
    const { promise } = this.flights.do(`${key}\n${input.signed ? 's' : 'u'}\n${epoch}`, async () => {
      const original = await fetchOriginal({ ...input, signal: undefined }, this.region, this.metrics);
      if (this.epoch === epoch) this.cache.set(key, original, input.account.id, input.path);
      return original;
    });
    return promise;
  }

  purge(account: string, pathOrPrefix: string, prefix: boolean): number {
    this.epoch++;
    return this.cache.purge(account, pathOrPrefix, prefix);
  }
}


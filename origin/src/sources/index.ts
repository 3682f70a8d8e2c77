/**
 * Originals: the endpoint's origins tried in order (media library first where listed), first hit
 * wins; none → ENOENT. Each origin type lives in its own module.
 */
import type { Account, Endpoint, OriginConfig } from '../../../shared/accounts.js';
import { limitExceeded, notFound, PixmeshError, upstreamFailed } from '../../../shared/errors.js';
import type { OriginConfig as RegionConfig } from '../config.js';
import { getS3Object } from './s3.js';

export interface Original {
  body: Buffer;
  contentType?: string;
  /** Which origin answered, e.g. "s3:demo-origin". */
  source: string;
  /** Marked private by its origin: needs a signed URL. */
  isPrivate: boolean;
}

export interface FetchOriginalInput {
  account: Account;
  endpoint: Endpoint;
  path: string;
  maxBytes: number;
}

/** Key of a media-library object inside the home region's bucket. */
export const mediaKey = (accountId: string, path: string) => `${accountId}/${path}`;

async function tryOrigin(origin: OriginConfig, input: FetchOriginalInput, region: RegionConfig): Promise<Original | null> {
  switch (origin.type) {
    case 'media': {
      const obj = await getS3Object(region.s3, region.mediaBucket, mediaKey(input.account.id, input.path), input.maxBytes);
      return obj && { body: obj.body, contentType: obj.contentType, source: 'media', isPrivate: obj.metadata.isprivatefile === 'true' };
    }
    case 's3': {
      const key = origin.prefix ? `${origin.prefix.replace(/\/+$/, '')}/${input.path}` : input.path;
      const obj = await getS3Object(origin, origin.bucket, key, input.maxBytes);
      return obj && { body: obj.body, contentType: obj.contentType, source: `s3:${origin.bucket}`, isPrivate: obj.metadata.isprivatefile === 'true' };
    }
    case 'web':
    case 'webproxy':
      // Safe HTTP fetching (SSRF rules, timeouts, size caps) is its own module; until it lands these are skipped.
      return null;
  }
}

export async function fetchOriginal(input: FetchOriginalInput, region: RegionConfig): Promise<Original> {
  let lastError: unknown;
  for (const origin of input.endpoint.origins) {
    try {
      const found = await tryOrigin(origin, input, region);
      if (found) return found;
    } catch (e) {
      if ((e as { code?: string }).code === 'ELIMIT') throw limitExceeded((e as Error).message, 413);
      if (e instanceof PixmeshError) throw e;
      lastError = e;
    }
  }
  if (lastError) throw upstreamFailed(`every origin failed; last error: ${(lastError as Error).message ?? String(lastError)}`);
  throw notFound();
}

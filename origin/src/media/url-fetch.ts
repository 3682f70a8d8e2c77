/**
 * Upload from a URL goes through the region's SSRF-safe fetcher (origin/src/sources/safe-fetch.ts:
 * the address check runs on the connected socket, every redirect hop is re-checked, connect /
 * header / body timeouts, a byte cap). This module states the small interface the media library
 * needs and maps safe-fetch's outcomes to the upload API's statuses.
 */
import { forbidden, limitExceeded, PixmeshError, upstreamFailed } from '../../../shared/errors.js';
import { safeFetch, SafeFetchError } from '../sources/safe-fetch.js';

export interface UrlFetchOptions {
  /** Loopback / private / link-local targets allowed (account setting `mediaLibrary.allowPrivateNetwork`; default false). */
  allowPrivateNetwork: boolean;
  maxBytes: number;
  /** ImageKit: the URL must answer with headers within 8 s. */
  timeoutMs: number;
}
export interface FetchedUrl {
  body: Buffer;
  contentType?: string;
}
export type UrlFetcher = (url: string, opts: UrlFetchOptions) => Promise<FetchedUrl>;

export const fetchUploadUrl: UrlFetcher = async (url, opts) => {
  let out;
  try {
    out = await safeFetch(url, { allowPrivateNetwork: opts.allowPrivateNetwork, maxBytes: opts.maxBytes, headerTimeoutMs: opts.timeoutMs });
  } catch (e) {
    if (e instanceof SafeFetchError && e.code === 'EACCES') throw forbidden(`file: ${e.message}`);
    if (e instanceof SafeFetchError && e.code === 'ELIMIT') throw limitExceeded(`file: the URL's file is over the ${opts.maxBytes}-byte limit`, 413);
    throw upstreamFailed(`file: fetching the URL failed (${(e as Error).message})`, 400);
  }
  if (out.status < 200 || out.status >= 300) throw new PixmeshError(400, 'ENOENT', `file: the URL answered ${out.status}`);
  const ct = out.headers['content-type'];
  return { body: out.body, contentType: Array.isArray(ct) ? ct[0] : ct };
};

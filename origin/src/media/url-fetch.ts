/**
 * Upload from a URL goes through the region's SSRF-safe fetcher (origin/src/sources/safe-fetch.ts,
 * owned by the origins work). This module only states the tiny interface the media library needs
 * and binds it at runtime:
 *   - if safe-fetch.ts exports `safeFetch(url, opts)`, that is used;
 *   - until it lands, a conservative stand-in is used: http(s) only, every resolved address must
 *     be public unless allowPrivateNetwork, no redirects followed, a header deadline and a byte cap.
 *     (It checks the resolved name, not the connected socket: replace it with safe-fetch.)
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import { forbidden, limitExceeded, PixmeshError, upstreamFailed } from '../../../shared/errors.js';
import { log } from '../log.js';

export interface UrlFetchOptions {
  /** Loopback / private / link-local targets allowed (account setting; default false). */
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

let bound: Promise<UrlFetcher> | undefined;

/** The fetcher in use: safe-fetch when present, the stand-in otherwise. */
export function urlFetcher(): Promise<UrlFetcher> {
  bound ??= (async () => {
    const spec = '../sources/safe-fetch.js';
    try {
      const mod = (await import(spec)) as { safeFetch?: unknown };
      if (typeof mod.safeFetch === 'function') {
        log.info('upload from URL: using sources/safe-fetch');
        return adaptSafeFetch(mod.safeFetch as (...args: unknown[]) => Promise<unknown>);
      }
      log.warn('safe-fetch has no safeFetch export; using the media stand-in fetcher');
    } catch {
      log.warn('sources/safe-fetch is not available; upload from URL uses the media stand-in fetcher');
    }
    return standInFetch;
  })();
  return bound;
}

/**
 * safe-fetch's contract: `safeFetch(url, {allowPrivateNetwork, maxBytes, headerTimeoutMs, …})`
 * resolves {status, headers, body} (body only for 2xx) and rejects with SafeFetchError
 * {code: EACCES | ELIMIT | ETIMEDOUT | EUPSTREAM}. Mapped to the upload API's statuses here.
 */
function adaptSafeFetch(fn: (...args: unknown[]) => Promise<unknown>): UrlFetcher {
  return async (url, opts) => {
    let out: { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer };
    try {
      out = (await fn(url, { allowPrivateNetwork: opts.allowPrivateNetwork, maxBytes: opts.maxBytes, headerTimeoutMs: opts.timeoutMs })) as typeof out;
    } catch (e) {
      const err = e as { code?: string; message?: string };
      if (err.code === 'EACCES') throw forbidden(`file: ${err.message}`);
      if (err.code === 'ELIMIT') throw limitExceeded(`file: the URL's file is over the ${opts.maxBytes}-byte limit`, 413);
      throw upstreamFailed(`file: fetching the URL failed (${err.message ?? String(e)})`, 400);
    }
    if (out.status < 200 || out.status >= 300) throw new PixmeshError(400, 'ENOENT', `file: the URL answered ${out.status}`);
    const ct = out.headers['content-type'];
    return { body: out.body, contentType: Array.isArray(ct) ? ct[0] : ct };
  };
}

export function isPrivateAddress(ip: string): boolean {
  let addr = ip.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  if (mapped) addr = mapped[1]!;
  if (net.isIPv4(addr)) {
    const [a, b] = addr.split('.').map(Number) as [number, number];
    return (
      a === 0 || a === 10 || a === 127 || (a === 100 && b >= 64 && b < 128) || (a === 169 && b === 254) || (a === 172 && b >= 16 && b < 32) ||
      (a === 192 && b === 168) || (a === 198 && (b === 18 || b === 19)) || a >= 224
    );
  }
  return addr === '::' || addr === '::1' || addr.startsWith('fc') || addr.startsWith('fd') || addr.startsWith('fe8') || addr.startsWith('fe9') ||
    addr.startsWith('fea') || addr.startsWith('feb') || addr.startsWith('ff') || addr.startsWith('::ffff:') || addr.startsWith('64:ff9b:') || addr.startsWith('2002:');
}

const standInFetch: UrlFetcher = async (raw, opts) => {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new PixmeshError(400, 'EBADTR', 'file: not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw forbidden('file: only http and https URLs can be fetched');
  if (url.username || url.password) throw forbidden('file: URLs with credentials are not fetched');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addrs = net.isIP(host) ? [host] : (await dns.lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
  if (addrs.length === 0) throw upstreamFailed(`file: cannot resolve ${host}`);
  if (!opts.allowPrivateNetwork && addrs.some(isPrivateAddress)) throw forbidden('file: the URL points to a private or loopback address');
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), opts.timeoutMs);
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'manual', signal: ctl.signal });
  } catch (e) {
    throw upstreamFailed(`file: fetching the URL failed (${(e as Error).name === 'AbortError' ? 'timed out' : (e as Error).message})`, 400);
  } finally {
    clearTimeout(timer);
  }
  if (res.status >= 300 && res.status < 400) throw forbidden('file: the URL redirects; redirects are not followed');
  if (!res.ok) throw new PixmeshError(400, 'ENOENT', `file: the URL answered ${res.status}`);
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > opts.maxBytes) throw limitExceeded(`file: the URL's file is over the ${opts.maxBytes}-byte limit`, 413);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
    size += c.length;
    if (size > opts.maxBytes) {
      ctl.abort();
      throw limitExceeded(`file: the URL's file is over the ${opts.maxBytes}-byte limit`, 413);
    }
    chunks.push(Buffer.from(c));
  }
  return { body: Buffer.concat(chunks), contentType: res.headers.get('content-type') ?? undefined };
};

/**
 * Outbound HTTP for web and web-proxy origins, safe against SSRF and resource exhaustion:
 *  - http: and https: only;
 *  - the address check runs on the address actually connected to: a custom `lookup` refuses a
 *    name if any of its addresses is not public (fails closed), IP literals are checked before
 *    connecting, and the connected socket's remote address is checked once more;
 *  - redirects are followed by hand (at most 5 by default) and every hop goes through the same
 *    checks, including the optional host allow-list;
 *  - separate connect, header and body timeouts;
 *  - a maximum body size, enforced on Content-Length and again while streaming (ELIMIT).
 * Node's built-in fetch cannot take a custom lookup per request, hence node:http/https.
 */
import dns, { type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { classifyAddress } from './private-net.js';

export type SafeFetchErrorCode = 'EACCES' | 'ELIMIT' | 'ETIMEDOUT' | 'EUPSTREAM';

export class SafeFetchError extends Error {
  constructor(
    readonly code: SafeFetchErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SafeFetchError';
  }
}

type LookupFn = (hostname: string, options: dns.LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

export interface SafeFetchOptions {
  /** Let the origin reach loopback / private / link-local addresses (the local demo needs it). */
  allowPrivateNetwork?: boolean;
  /** Largest body accepted, in bytes. */
  maxBytes: number;
  connectTimeoutMs?: number;
  /** From sending the request to the response headers. */
  headerTimeoutMs?: number;
  /** From the response headers to the end of the body. */
  bodyTimeoutMs?: number;
  maxRedirects?: number;
  /** Checked on the first URL and on every redirect target (host name, lower case). */
  allowHost?: (host: string) => boolean;
  headers?: Record<string, string>;
  /** POST sends `body` (webhook deliveries); default GET. */
  method?: 'GET' | 'POST';
  body?: Buffer;
  /** Overrides the address policy (tests); default: public addresses only, unless allowPrivateNetwork. */
  addressAllowed?: (ip: string) => boolean;
  /** Name resolution (tests inject one); default dns.lookup. */
  lookup?: LookupFn;
  signal?: AbortSignal;
}

export interface SafeResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The body of a 2xx answer; empty for other statuses (never read). */
  body: Buffer;
  /** The URL that answered (after redirects). */
  url: string;
  redirects: number;
}

export const FETCH_DEFAULTS = { connectTimeoutMs: 5_000, headerTimeoutMs: 10_000, bodyTimeoutMs: 20_000, maxRedirects: 5 };
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const BLOCKED = Symbol('blocked-address');

function addressPolicy(opts: SafeFetchOptions): (ip: string) => boolean {
  if (opts.addressAllowed) return opts.addressAllowed;
  if (opts.allowPrivateNetwork) return (ip) => classifyAddress(ip) !== 'invalid';
  return (ip) => classifyAddress(ip) === 'public';
}

function blocked(host: string, ip: string): SafeFetchError {
  const err = new SafeFetchError('EACCES', `source address not allowed: ${host} → ${ip} (${classifyAddress(ip)})`);
  (err as unknown as Record<symbol, boolean>)[BLOCKED] = true;
  return err;
}

/** A `lookup` for http.request that refuses a name when any of its addresses is not allowed. */
function guardedLookup(allowed: (ip: string) => boolean, resolve: LookupFn): net.LookupFunction {
  return ((hostname: string, options: dns.LookupOptions, callback: (...args: unknown[]) => void) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err);
      const list = addresses ?? [];
      if (list.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }));
      const bad = list.find((a) => !allowed(a.address));
      if (bad) return callback(blocked(hostname, bad.address));
      if (options.all) return callback(null, list);
      return callback(null, list[0]!.address, list[0]!.family);
    });
  }) as unknown as net.LookupFunction;
}

/**
 * http/https agents whose connections pass the same address policy (for clients that take an
 * agent, such as the S3 client of an origin a customer configured). IP literals skip `lookup`:
 * `checkLiteral` refuses those before a request is made.
 */
export function guardedAgents(allowPrivateNetwork: boolean): { httpAgent: http.Agent; httpsAgent: https.Agent; checkLiteral: (hostname: string) => void } {
  const allowed = addressPolicy({ allowPrivateNetwork, maxBytes: 0 });
  const lookup = guardedLookup(allowed, dns.lookup as unknown as LookupFn);
  return {
    httpAgent: new http.Agent({ keepAlive: true, lookup }),
    httpsAgent: new https.Agent({ keepAlive: true, lookup }),
    checkLiteral: (hostname) => {
      const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
      if (net.isIP(host) && !allowed(host)) throw blocked(host, host);
    },
  };
}

interface Hop {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function requestOnce(url: URL, opts: SafeFetchOptions, allowed: (ip: string) => boolean): Promise<Hop> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  // Node skips `lookup` for IP literals: check them here.
  if (net.isIP(host) && !allowed(host)) return Promise.reject(blocked(host, host));
  const connectMs = opts.connectTimeoutMs ?? FETCH_DEFAULTS.connectTimeoutMs;
  const headerMs = opts.headerTimeoutMs ?? FETCH_DEFAULTS.headerTimeoutMs;
  const bodyMs = opts.bodyTimeoutMs ?? FETCH_DEFAULTS.bodyTimeoutMs;
  const mod = url.protocol === 'https:' ? https : http;

  return new Promise<Hop>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const arm = (ms: number, what: string) => {
      clearTimeout(timer);
      timer = setTimeout(() => fail(new SafeFetchError('ETIMEDOUT', `${what} timed out after ${ms} ms (${url.host})`)), ms);
    };
    const done = (hop: Hop) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(hop);
    };
    const fail = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      req.destroy();
      reject(e);
    };
    const onAbort = () => fail(new SafeFetchError('ETIMEDOUT', 'the fetch was abandoned'));

    const req = mod.request({
      protocol: url.protocol,
      hostname: host,
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: opts.method ?? 'GET',
      agent: false,
      lookup: guardedLookup(allowed, opts.lookup ?? (dns.lookup as unknown as LookupFn)),
      headers: { 'user-agent': 'pixmesh-origin/0.1', accept: 'image/*,*/*;q=0.8', ...(opts.body ? { 'content-length': String(opts.body.length) } : {}), ...opts.headers },
    });
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    arm(connectMs, 'connect');
    req.on('socket', (socket) => {
      const connected = () => {
        // Belt and braces: the address the socket really reached.
        const remote = socket.remoteAddress;
        if (!remote || !allowed(remote)) return fail(blocked(host, remote ?? 'unknown'));
        arm(headerMs, 'waiting for response headers');
      };
      // A socket that failed its lookup never connects: its error arrives through req 'error'.
      if (!socket.connecting && socket.remoteAddress) connected();
      else socket.once('connect', connected);
    });
    req.on('error', (e) => {
      if (e instanceof SafeFetchError) return fail(e);
      const code = (e as NodeJS.ErrnoException).code ?? '';
      fail(new SafeFetchError('EUPSTREAM', `fetching ${url.host} failed: ${code || e.message}`));
    });
    req.on('response', (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        res.resume();
        return done({ status, headers: res.headers, body: Buffer.alloc(0) });
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > opts.maxBytes)
        return fail(new SafeFetchError('ELIMIT', `the original is ${declared} bytes, over the ${opts.maxBytes}-byte input limit`));
      arm(bodyMs, 'reading the body');
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > opts.maxBytes) return fail(new SafeFetchError('ELIMIT', `the original is over the ${opts.maxBytes}-byte input limit`));
        chunks.push(chunk);
      });
      res.on('end', () => done({ status, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (e) => fail(new SafeFetchError('EUPSTREAM', `reading from ${url.host} failed: ${e.message}`)));
      res.on('aborted', () => fail(new SafeFetchError('EUPSTREAM', `${url.host} closed the connection mid-body`)));
    });
    req.end(opts.body);
  });
}

function checkUrl(url: URL, opts: SafeFetchOptions): void {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new SafeFetchError('EACCES', `only http and https sources are allowed (got ${url.protocol})`);
  if (url.username || url.password) throw new SafeFetchError('EACCES', 'source URLs may not carry credentials');
  const host = url.hostname.toLowerCase();
  if (opts.allowHost && !opts.allowHost(host)) throw new SafeFetchError('EACCES', `host "${host}" is not allowed`);
}

/** GET (or POST) a URL under the rules above. Non-2xx answers resolve (status + headers, no body); violations reject with SafeFetchError. */
export async function safeFetch(input: string | URL, opts: SafeFetchOptions): Promise<SafeResponse> {
  const allowed = addressPolicy(opts);
  const maxRedirects = opts.maxRedirects ?? FETCH_DEFAULTS.maxRedirects;
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new SafeFetchError('EACCES', 'not an absolute URL');
  }
  for (let redirects = 0; ; redirects++) {
    checkUrl(url, opts);
    const hop = await requestOnce(url, opts, allowed);
    const location = hop.headers.location;
    if (!REDIRECTS.has(hop.status) || !location) return { ...hop, url: url.href, redirects };
    if (redirects >= maxRedirects) throw new SafeFetchError('EUPSTREAM', `more than ${maxRedirects} redirects`);
    try {
      url = new URL(location, url);
    } catch {
      throw new SafeFetchError('EUPSTREAM', 'a redirect pointed at an invalid URL');
    }
  }
}

/**
 * GET /internal/origin-probe/<account>[?sample=<path>] (signed internal call, docs/routing.md
 * "Home-region advice"): this region measures its network distance to the account's origins, so
 * the edge can rank regions as homes for the account.
 *
 * - Web origins: GET <baseUrl>/ timed (RTT; best of `tries`; bodies over 64 kB are refused after
 *   the headers), and with `sample` a GET
 *   of that file (time and bytes → throughput). Through safe-fetch with the origin's own address
 *   policy, so a probe reaches nothing a render could not (SSRF-safe).
 * - S3 origins: GET of the endpoint's root (the operator-configured endpoint the S3 client already
 *   connects to; AWS's regional endpoint by default). Unsigned, so S3 answers 400/403: the time to
 *   that answer is still one round trip.
 * - The media library and web-proxy origins have no fixed host to measure and are skipped.
 * Rate-limited: one measurement per account per `minIntervalMs` (later calls get the cached
 * result, flagged `cached: true`); at most `maxOrigins` origins and one sample per call.
 */
import { Hono } from 'hono';
import { badRequest, notFound } from '../../shared/errors.js';
import type { SourceConfig } from '../../shared/accounts.js';
import { safeFetch, SafeFetchError } from './sources/safe-fetch.js';
import type { RegionServices } from './services.js';

export interface OriginMeasurement {
  origin: string;
  type: 'web' | 's3';
  /** Best time to response headers, ms (null when every try failed). */
  rttMs: number | null;
  /** GET of the sample: ms to the last byte, bytes, and bytes/s. */
  sample?: { ms: number; bytes: number; bytesPerSec: number } | { error: string };
  error?: string;
}

export interface OriginProbeResult {
  region: string;
  account: string;
  measuredAt: number;
  cached: boolean;
  origins: OriginMeasurement[];
}

export interface OriginProbeOptions {
  minIntervalMs: number;
  tries: number;
  maxOrigins: number;
  timeoutMs: number;
  maxSampleBytes: number;
  /** User-Agent of the probes: names the region, so an origin's operator can tell probes from renders. */
  userAgent: (region: string) => string;
}

export const ORIGIN_PROBE_DEFAULTS: OriginProbeOptions = {
  minIntervalMs: 60_000,
  tries: 3,
  maxOrigins: 4,
  timeoutMs: 5_000,
  maxSampleBytes: 8 * 1024 * 1024,
  userAgent: (region) => `pixmesh-origin-probe/1 (region ${region})`,
};

function target(o: SourceConfig): { url: string; type: 'web' | 's3'; allowPrivateNetwork: boolean } | undefined {
  if (o.type === 'web') return { url: o.baseUrl.replace(/\/+$/, '') + '/', type: 'web', allowPrivateNetwork: o.allowPrivateNetwork };
  // The S3 endpoint is operator configuration the S3 client connects to anyway.
  if (o.type === 's3') return { url: (o.endpoint ?? `https://s3.${o.region}.amazonaws.com`).replace(/\/+$/, '') + '/', type: 's3', allowPrivateNetwork: true };
  return undefined;
}

const SAMPLE_RE = /^[^\0\r\n?#]{1,1024}$/;

export function originProbeRoutes(deps: Pick<RegionServices, 'config' | 'accounts'>, options: Partial<OriginProbeOptions> = {}): Hono {
  const opts = { ...ORIGIN_PROBE_DEFAULTS, ...options };
  const memo = new Map<string, { at: number; result: Promise<OriginProbeResult> }>();
  const app = new Hono();

  async function measure(accountId: string, origins: SourceConfig[], sample: string | undefined): Promise<OriginProbeResult> {
    const region = deps.config.region;
    const headers = { 'user-agent': opts.userAgent(region) };
    const seen = new Set<string>();
    const targets = origins.map(target).filter((t): t is NonNullable<ReturnType<typeof target>> => !!t && !seen.has(t.url) && !!seen.add(t.url)).slice(0, opts.maxOrigins);
    const out: OriginMeasurement[] = [];
    for (const t of targets) {
      const m: OriginMeasurement = { origin: new URL(t.url).origin, type: t.type, rttMs: null };
      for (let i = 0; i < opts.tries; i++) {
        const t0 = performance.now();
        try {
          // Any answer is a round trip; a body over 64 kB is refused after the headers (ELIMIT), which times the same.
          await safeFetch(t.url, { maxBytes: 64 * 1024, allowPrivateNetwork: t.allowPrivateNetwork, headers, connectTimeoutMs: opts.timeoutMs, headerTimeoutMs: opts.timeoutMs, bodyTimeoutMs: opts.timeoutMs, maxRedirects: 0 });
          const ms = Math.round((performance.now() - t0) * 10) / 10;
          m.rttMs = m.rttMs === null ? ms : Math.min(m.rttMs, ms);
        } catch (e) {
          if (e instanceof SafeFetchError && e.code === 'ELIMIT') {
            const ms = Math.round((performance.now() - t0) * 10) / 10;
            m.rttMs = m.rttMs === null ? ms : Math.min(m.rttMs, ms);
          } else m.error = e instanceof SafeFetchError ? `${e.code}: ${e.message}` : String((e as Error).message ?? e);
        }
      }
      if (m.rttMs !== null) delete m.error;
      if (sample && t.type === 'web') {
        const t0 = performance.now();
        try {
          const res = await safeFetch(t.url + sample.replace(/^\/+/, ''), { maxBytes: opts.maxSampleBytes, allowPrivateNetwork: t.allowPrivateNetwork, headers, connectTimeoutMs: opts.timeoutMs, headerTimeoutMs: opts.timeoutMs, bodyTimeoutMs: 4 * opts.timeoutMs, maxRedirects: 0 });
          const ms = Math.max(0.1, performance.now() - t0);
          m.sample = res.status === 200 ? { ms: Math.round(ms * 10) / 10, bytes: res.body.length, bytesPerSec: Math.round(res.body.length / (ms / 1000)) } : { error: `status ${res.status}` };
        } catch (e) {
          m.sample = { error: e instanceof SafeFetchError ? e.code : String((e as Error).message ?? e) };
        }
      }
      out.push(m);
    }
    return { region, account: accountId, measuredAt: Date.now(), cached: false, origins: out };
  }

  app.get('/internal/origin-probe/:account', async (c) => {
    const accountId = c.req.param('account');
    const account = deps.accounts.get(accountId);
    if (!account) throw notFound(`unknown account "${accountId}"`);
    const sample = c.req.query('sample');
    if (sample !== undefined && !SAMPLE_RE.test(sample)) throw badRequest('sample must be a file path (1–1024 characters, no query or fragment)');
    const key = `${accountId}\n${sample ?? ''}`;
    const now = Date.now();
    const hit = memo.get(key);
    if (hit && now - hit.at < opts.minIntervalMs) return c.json({ ...(await hit.result), cached: true }, 200, { 'cache-control': 'no-store' });
    const origins = account.endpoints.flatMap((e) => e.origins);
    const result = measure(accountId, origins, sample);
    memo.set(key, { at: now, result });
    if (memo.size > 1024) memo.delete(memo.keys().next().value as string);
    result.catch(() => memo.delete(key));
    return c.json(await result, 200, { 'cache-control': 'no-store' });
  });
  return app;
}

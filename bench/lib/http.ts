/** A minimal keep-alive HTTP client that times each request (headers and full body). */
import http from 'node:http';

export interface Timed {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** ms from send to response headers. */
  ttfbMs: number;
  /** ms from send to the last body byte. */
  totalMs: number;
  bytes: number;
  /** Set when the request failed at the network level. */
  error?: string;
}

export const keepAliveAgent = (maxSockets = 64) => new http.Agent({ keepAlive: true, maxSockets });

export function timedGet(url: string, headers: Record<string, string>, agent: http.Agent, timeoutMs = 30_000): Promise<Timed> {
  const u = new URL(url);
  const t0 = performance.now();
  return new Promise((resolve) => {
    let ttfb = 0;
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method: 'GET', headers, agent }, (res) => {
      ttfb = performance.now() - t0;
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, ttfbMs: ttfb, totalMs: performance.now() - t0, bytes }));
      res.on('error', (e) => resolve({ status: 0, headers: {}, ttfbMs: ttfb, totalMs: performance.now() - t0, bytes, error: e.message }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, headers: {}, ttfbMs: performance.now() - t0, totalMs: performance.now() - t0, bytes: 0, error: e.message }));
    req.end();
  });
}

/** Run `jobs` with at most `concurrency` in flight; returns when all are done. */
export async function pool<T>(items: readonly T[], concurrency: number, job: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      await job(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

/** Header value as a string. */
export const hv = (h: http.IncomingHttpHeaders, name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v.join(', ') : v;
};

/**
 * The region's load balancer for `PIXMESH_REPLICAS=<n> npm start`: a small HTTP proxy in front of
 * a region's replicas (docker-compose and Kubernetes use haproxy / a Service instead; see
 * docs/deploy.md). It
 *   - routes a render call to the owner of its variant (rendezvous hashing on the path, query and
 *     negotiation headers — the same function the replicas use, shared/rendezvous.ts), a media
 *     call to the owner of its account, anything else round-robin (`policy: 'round-robin'` routes
 *     everything round-robin, for the benchmark's comparison);
 *   - health-checks every replica (GET /readyz) and ejects one that fails a check or a connection;
 *   - retries an idempotent request (GET, HEAD) on the next replica when one dies before or while
 *     answering (answers are read whole before they are passed on, so a replica killed mid-body
 *     costs a retry, not a broken response), and any request that was refused before it was sent.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mediaRouteKey, rendezvousRank, renderRouteKey } from '../shared/rendezvous.js';

export interface BalancerOptions {
  host?: string;
  /** 0: any free port. */
  port: number;
  backends: string[];
  policy?: 'hash' | 'round-robin';
  healthIntervalMs?: number;
  /** One attempt at one replica (headers and body). */
  attemptTimeoutMs?: number;
  /** Largest request body accepted (it is held to be replayable). */
  maxBodyBytes?: number;
}

export interface BackendState {
  url: string;
  healthy: boolean;
  requests: number;
  failures: number;
}

export interface Balancer {
  url: string;
  backends(): BackendState[];
  stats(): { requests: number; retries: number; failed: number };
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host', 'content-length']);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS']);

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

class AttemptError extends Error {
  constructor(
    message: string,
    /** The request never reached the replica (safe to retry whatever the method). */
    readonly notSent: boolean,
  ) {
    super(message);
  }
}

function readBody(req: http.IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(Object.assign(new Error('request body too large'), { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function startBalancer(opts: BalancerOptions): Promise<Balancer> {
  const host = opts.host ?? '127.0.0.1';
  const policy = opts.policy ?? 'hash';
  const healthIntervalMs = opts.healthIntervalMs ?? 500;
  const attemptTimeoutMs = opts.attemptTimeoutMs ?? 15_000;
  const maxBody = opts.maxBodyBytes ?? 64 * 1024 * 1024;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const states = new Map<string, BackendState>(opts.backends.map((url) => [url, { url, healthy: true, requests: 0, failures: 0 }]));
  const totals = { requests: 0, retries: 0, failed: 0 };
  let rr = 0;

  const attempt = (backend: string, req: http.IncomingMessage, body: Buffer): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const target = new URL(req.url ?? '/', backend);
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(req.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
      headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
      if (body.length || !IDEMPOTENT.has(req.method ?? 'GET')) headers['content-length'] = String(body.length);
      let sent = false;
      const out = http.request(target, { method: req.method, headers, agent, timeout: attemptTimeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (e) => reject(new AttemptError(`answer broken: ${e.message}`, false)));
        res.on('aborted', () => reject(new AttemptError('answer aborted', false)));
      });
      out.on('socket', (s) => {
        if (!s.connecting) sent = true; // a reused keep-alive socket
        else s.once('connect', () => (sent = true));
      });
      out.on('timeout', () => out.destroy(new Error('attempt timed out')));
      out.on('error', (e: NodeJS.ErrnoException) => {
        // A refused connection never delivered anything; a reused keep-alive socket the peer closed at once (ECONNRESET before any byte back) neither, for idempotent calls we retry anyway.
        reject(new AttemptError(e.message, e.code === 'ECONNREFUSED' || (!sent && e.code !== 'ETIMEDOUT')));
      });
      out.end(body);
    });

  const order = (req: http.IncomingMessage): string[] => {
    const all = [...states.values()];
    const healthy = all.filter((b) => b.healthy).map((b) => b.url);
    const down = all.filter((b) => !b.healthy).map((b) => b.url);
    const url = new URL(req.url ?? '/', 'http://x');
    let key: string | null = null;
    if (policy === 'hash') {
      if (url.pathname.startsWith('/internal/render/')) key = renderRouteKey(url.pathname + url.search, { get: (h) => req.headers[h] as string | undefined });
      else key = mediaRouteKey(url.pathname);
    }
    if (key) return [...rendezvousRank(key, healthy), ...down];
    rr = (rr + 1) % Math.max(1, healthy.length);
    return [...healthy.slice(rr), ...healthy.slice(0, rr), ...down];
  };

  const server = http.createServer(async (req, res) => {
    totals.requests++;
    if (req.url === '/_balancer') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ policy, backends: [...states.values()], ...totals }));
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, maxBody);
    } catch (e) {
      res.writeHead((e as { status?: number }).status ?? 400, { 'content-type': 'text/plain' });
      res.end((e as Error).message);
      return;
    }
    const idempotent = IDEMPOTENT.has(req.method ?? 'GET');
    let lastError = 'no replica';
    const candidates = order(req);
    for (let i = 0; i < candidates.length; i++) {
      const backend = candidates[i]!;
      const state = states.get(backend)!;
      state.requests++;
      if (i > 0) totals.retries++;
      try {
        const a = await attempt(backend, req, body);
        const headers: http.OutgoingHttpHeaders = {};
        for (const [k, v] of Object.entries(a.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
        headers['content-length'] = String(a.body.length);
        res.writeHead(a.status, headers);
        res.end(req.method === 'HEAD' ? undefined : a.body);
        return;
      } catch (e) {
        const err = e as AttemptError;
        state.failures++;
        state.healthy = false; // ejected until a health check passes
        lastError = `${backend}: ${err.message}`;
        if (!idempotent && !err.notSent) break;
      }
    }
    totals.failed++;
    res.writeHead(502, { 'content-type': 'text/plain', 'ik-error': `EUPSTREAM - no replica answered (${lastError})`.replace(/[^\x20-\x7e]/g, '?') });
    res.end('no replica answered');
  });
  server.keepAliveTimeout = 5_000;

  const check = async (s: BackendState) => {
    try {
      const r = await fetch(`${s.url}/readyz`, { signal: AbortSignal.timeout(Math.max(300, healthIntervalMs * 2)) });
      await r.body?.cancel();
      s.healthy = r.ok;
    } catch {
      s.healthy = false;
    }
  };
  await Promise.all([...states.values()].map(check));
  let closed = false;
  const loop = async () => {
    while (!closed) {
      await new Promise((r) => setTimeout(r, healthIntervalMs).unref());
      if (!closed) await Promise.all([...states.values()].map(check));
    }
  };
  void loop();

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    backends: () => [...states.values()].map((s) => ({ ...s })),
    stats: () => ({ ...totals }),
    close: () =>
      new Promise<void>((resolve) => {
        closed = true;
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

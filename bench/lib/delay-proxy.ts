/**
 * A small HTTP delay proxy on loopback: waits a chosen delay (one emulated round trip) and then
 * forwards the request unchanged (Host header included, so S3 signatures still verify) to a
 * target, streaming the answer back. An unreachable target resets the client connection, so the
 * caller sees a network failure exactly as it would for a dead region.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxyRoute {
  /** Base URL to forward to (no trailing slash). */
  target: string;
  /** Path to forward (default: the incoming path). */
  path?: string;
  /** Delay before forwarding, ms. */
  delayMs: number;
}

/** What one forward cost, as the proxy saw it. */
export interface ForwardTiming {
  /** The delay really applied (a loaded machine fires timers late): the emulated network's real RTT. */
  waitedMs: number;
  /** The delay asked for. */
  targetMs: number;
  /** From forwarding upstream to the upstream's response headers (the region's time as seen from the wire). */
  upstreamMs: number;
  /** The upstream's Server-Timing header. */
  serverTiming: string | undefined;
}

export interface ProxyOptions {
  /**
   * Fire the timer early by the lateness seen so far (EWMA), so the mean applied delay stays on the
   * target when the machine is loaded (default true). The applied delay is reported either way.
   */
  compensate?: boolean;
}

export interface DelayProxy {
  url: string;
  port: number;
  /** Requests forwarded so far, by method. */
  counts: Record<string, number>;
  /** TCP connections accepted so far (the callers' connection reuse: connections per request). */
  connections: { accepted: number };
  close(): Promise<void>;
}

export async function startDelayProxy(
  host: string,
  port: number,
  route: (req: http.IncomingMessage) => ProxyRoute | null,
  onForward?: (req: http.IncomingMessage, waitedMs: number) => void,
  onResponse?: (req: http.IncomingMessage, t: ForwardTiming) => void,
  opts: ProxyOptions = {},
): Promise<DelayProxy> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const counts: Record<string, number> = {};
  const compensate = opts.compensate ?? true;
  /** EWMA of how late timers fired (ms). */
  let lateMs = 0;
  const server = http.createServer((req, res) => {
    const r = route(req);
    if (!r) {
      res.writeHead(404).end();
      return;
    }
    // Hold the request (and its body) for the delay, then forward.
    req.pause();
    const heldAt = performance.now();
    const target = Math.max(0, r.delayMs);
    const early = compensate ? Math.min(lateMs, target) : 0;
    const forward = () => {
      counts[req.method ?? 'GET'] = (counts[req.method ?? 'GET'] ?? 0) + 1;
      const sentAt = performance.now();
      const waited = sentAt - heldAt;
      // Lateness of this timer against what it was set to (clamped: one stall must not swing the next delays).
      if (target > 0) lateMs += 0.1 * (Math.min(50, Math.max(0, waited - (target - early))) - lateMs);
      onForward?.(req, waited);
      const url = new URL((r.path ?? req.url ?? '/'), r.target + '/');
      const up = http.request(
        { host: url.hostname, port: url.port, path: url.pathname + url.search, method: req.method, headers: req.headers, agent },
        (upRes) => {
          const st = upRes.headers['server-timing'];
          onResponse?.(req, { waitedMs: waited, targetMs: target, upstreamMs: performance.now() - sentAt, serverTiming: Array.isArray(st) ? st.join(', ') : st });
          res.writeHead(upRes.statusCode ?? 502, upRes.headers);
          upRes.pipe(res);
        },
      );
      up.on('error', () => {
        // Target down: look like a dead host to the caller.
        req.socket.destroy();
      });
      req.pipe(up);
      req.resume();
    };
    // No delay: forward at once (a zero timer would still fire a tick later, late on a loaded machine, and uncompensated).
    if (target - early <= 0) forward();
    else setTimeout(forward, target - early);
  });
  const connections = { accepted: 0 };
  server.on('connection', () => connections.accepted++);
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    counts,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

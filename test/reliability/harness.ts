/**
 * Shared pieces of the reliability suite: process liveness and memory (/proc), small loopback
 * servers (canary, slow, redirecting), bounded HTTP calls, and the figures file that
 * docs/reliability.md is written from.
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/* ------------------------------------------------------------------------------------------ */
/* Processes                                                                                   */

export interface ProcMemory {
  /** Resident set now, MB. */
  rssMb: number;
  /** Peak resident set since the process started (VmHWM), MB. */
  peakMb: number;
}

/** RSS and peak RSS of a process from /proc/<pid>/status; null when it is gone. */
export function procMemory(pid: number): ProcMemory | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, 'm').exec(text)?.[1] ?? NaN);
  if (/^State:\s+Z/m.test(text)) return null;
  return { rssMb: Math.round(kb('VmRSS') / 1024), peakMb: Math.round(kb('VmHWM') / 1024) };
}

export function isAlive(pid: number): boolean {
  return procMemory(pid) !== null;
}

/* ------------------------------------------------------------------------------------------ */
/* HTTP                                                                                        */

export interface Answer {
  status: number;
  headers: Headers;
  body: Buffer;
  ms: number;
  /** The ik-error code, if any. */
  code: string | null;
}

/** GET with a hard deadline; a hang shows up as status 0 (and is a failure everywhere it is checked). */
export async function get(url: string, headers: Record<string, string> = {}, timeoutMs = 30_000, method = 'GET'): Promise<Answer> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, { headers, method, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    const body = Buffer.from(await res.arrayBuffer());
    const ik = res.headers.get('ik-error');
    return { status: res.status, headers: res.headers, body, ms: performance.now() - t0, code: ik ? ik.split(' - ')[0]!.trim() : null };
  } catch (e) {
    return { status: 0, headers: new Headers(), body: Buffer.from(String((e as Error).message)), ms: performance.now() - t0, code: null };
  }
}

export interface LocalServer {
  url: string;
  port: number;
  /** Requests received (method + url). */
  hits: string[];
  close(): Promise<void>;
}

/** A loopback HTTP server; `handler` answers, every request is recorded in `hits`. */
export function localServer(handler: http.RequestListener, host = '127.0.0.1', port = 0): Promise<LocalServer> {
  const hits: string[] = [];
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const p = (server.address() as AddressInfo).port;
      const shownHost = host.includes(':') ? `[${host}]` : host;
      resolve({
        url: `http://${shownHost}:${p}`,
        port: p,
        hits,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

/** Serves `files` (path → body) with a content type; anything else 404. */
export function staticHandler(files: Record<string, { body: Buffer; contentType: string }>): http.RequestListener {
  return (req, res) => {
    const f = files[(req.url ?? '').split('?')[0]!];
    if (!f) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': f.contentType, 'content-length': String(f.body.length) }).end(f.body);
  };
}

/* ------------------------------------------------------------------------------------------ */
/* Figures                                                                                     */

export const FIGURES_FILE = process.env.PIXMESH_RELIABILITY_FIGURES ?? path.join(os.tmpdir(), 'pixmesh-reliability-figures.json');

/** Merge a section of figures into the figures file (docs/reliability.md is written from it). */
export function recordFigures(section: string, figures: Record<string, unknown>): void {
  let all: Record<string, unknown> = {};
  try {
    all = JSON.parse(fs.readFileSync(FIGURES_FILE, 'utf8')) as Record<string, unknown>;
  } catch {
    /* first writer */
  }
  all[section] = { ...figures, recordedAt: new Date().toISOString() };
  fs.writeFileSync(FIGURES_FILE, JSON.stringify(all, null, 2));
  console.log(`[reliability] ${section}: ${JSON.stringify(figures)}`);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * GET a raw request target exactly as given (no URL normalisation: "..", "%2e", odd bytes stay as
 * they are), like a hostile client would send it. Status 0 = no answer in time; -1 = Node refused
 * to send it (not a valid request target at all).
 */
export function rawGet(base: string, target: string, headers: Record<string, string> = {}, timeoutMs = 30_000): Promise<Answer> {
  const u = new URL(base);
  const t0 = performance.now();
  return new Promise((resolve) => {
    let req: http.ClientRequest;
    const finish = (a: Omit<Answer, 'ms'>) => resolve({ ...a, ms: performance.now() - t0 });
    try {
      req = http.request({ host: u.hostname, port: u.port, path: target, method: 'GET', headers, agent: false, insecureHTTPParser: false });
    } catch (e) {
      finish({ status: -1, headers: new Headers(), body: Buffer.from((e as Error).message), code: null });
      return;
    }
    const timer = setTimeout(() => {
      req.destroy();
      finish({ status: 0, headers: new Headers(), body: Buffer.from('timeout'), code: null });
    }, timeoutMs);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        const ik = h.get('ik-error');
        finish({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks), code: ik ? ik.split(' - ')[0]!.trim() : null });
      });
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      finish({ status: 0, headers: new Headers(), body: Buffer.from(e.message), code: null });
    });
    req.end();
  });
}

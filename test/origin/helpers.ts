/**
 * Helpers for origin tests: signed internal calls, a local HTTP origin server that counts hits,
 * small test images, and a throwaway set of region processes + s3rver (no edge).
 */
import fs from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { signInternalRequest } from '../../shared/internal-auth.js';
import { REGION_IDS, type RegionId } from '../../shared/regions.js';
import { ORIGIN_ARGV, startCluster, type Cluster, type ClusterOptions } from '../../scripts/cluster.js';

/** GET/POST an origin's internal route with a valid x-pixmesh-auth signature. */
export async function signedFetch(
  baseUrl: string,
  secret: string,
  pathAndQuery: string,
  init: { method?: string; headers?: Record<string, string>; body?: string; region?: string } = {},
): Promise<Response> {
  const method = init.method ?? 'GET';
  const headers = new Headers(init.headers ?? {});
  const region = init.region ?? (await regionOf(baseUrl));
  await signInternalRequest(secret, headers, { method, pathAndQuery, region, body: init.body });
  return fetch(baseUrl + pathAndQuery, { method, headers, body: init.body });
}

/**
 * Waits until an origin has no result-cache write in progress (they land behind their responses:
 * docs/origin.md "Caches"), so a test may read the files or stop the process. Bounded (10 s).
 */
export async function writesSettled(baseUrl: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = (await (await fetch(`${baseUrl}/readyz`)).json()) as { writesBehind?: number; cache?: { pendingWrites?: number } };
    if (!r.writesBehind && !r.cache?.pendingWrites) return;
    if (Date.now() > until) throw new Error(`${baseUrl}: result-cache writes still in progress after ${timeoutMs} ms`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

/** The region an origin serves (from its public /healthz): internal signatures name their target region. */
const regionByUrl = new Map<string, Promise<string>>();
export function regionOf(baseUrl: string): Promise<string> {
  let r = regionByUrl.get(baseUrl);
  if (!r) {
    r = fetch(`${baseUrl}/healthz`).then(async (res) => ((await res.json()) as { region: string }).region);
    r.catch(() => regionByUrl.delete(baseUrl));
    regionByUrl.set(baseUrl, r);
  }
  return r;
}

export interface Hit {
  url: string;
  at: number;
}

/** A local web server: routes → handlers; records every request it sees. */
export interface OriginServer {
  url: string;
  port: number;
  hits: Hit[];
  count(pathname: string): number;
  route(pathname: string, handler: http.RequestListener): void;
  close(): Promise<void>;
}

export async function startOriginServer(host = '127.0.0.1'): Promise<OriginServer> {
  const routes = new Map<string, http.RequestListener>();
  const hits: Hit[] = [];
  const server = http.createServer((req, res) => {
    hits.push({ url: req.url ?? '', at: Date.now() });
    const pathname = new URL(req.url ?? '/', 'http://x').pathname;
    const handler = routes.get(pathname);
    if (handler) return void handler(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  server.keepAliveTimeout = 500;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host}:${port}`,
    port,
    hits,
    count: (pathname) => hits.filter((h) => new URL(h.url, 'http://x').pathname === pathname).length,
    route: (pathname, handler) => void routes.set(pathname, handler),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Serve fixed bytes, optionally after a delay and with extra headers. */
export function serveBytes(body: Buffer, contentType: string, opts: { delayMs?: number; headers?: Record<string, string> } = {}): http.RequestListener {
  return (_req, res) => {
    const send = () => {
      res.writeHead(200, { 'content-type': contentType, 'content-length': String(body.length), ...opts.headers });
      res.end(body);
    };
    if (opts.delayMs) setTimeout(send, opts.delayMs);
    else send();
  };
}

/** A small photo-like JPEG (gradient + shapes), w × h. */
export async function testJpeg(width = 640, height = 480, hue = 200): Promise<Buffer> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
    <defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="hsl(${hue},70%,60%)"/><stop offset="1" stop-color="hsl(${hue + 90},70%,40%)"/></linearGradient></defs>
    <rect width="100%" height="100%" fill="url(#g)"/><circle cx="${width / 3}" cy="${height / 2}" r="${Math.min(width, height) / 4}" fill="#fc3"/></svg>`;
  return sharp(Buffer.from(svg)).jpeg({ quality: 85 }).toBuffer();
}

/** A large but tiny-on-disk PNG (a flat colour), for pixel-limit tests. */
export async function flatPng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#336699' } }).png({ compressionLevel: 9 }).toBuffer();
}

export async function imageFacts(res: Response): Promise<{ format?: string; width?: number; height?: number; bytes: number }> {
  const buf = Buffer.from(await res.arrayBuffer());
  const m = await sharp(buf).metadata();
  return { format: m.format, width: m.width, height: m.height, bytes: buf.length };
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/**
 * A base port with `span` free ports after it. Other suites and benchmarks run on this machine at
 * the same time, so fixed ports collide (and a health check could then reach someone else's server).
 * Bases stay below the kernel's ephemeral range (32768+ on Linux): a port there can be taken at any
 * moment as the local port of an outgoing connection, which made a later listen fail EADDRINUSE.
 */
export async function freePortBase(span = 32): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * 1_400) * 16;
    let ok = true;
    for (let p = base; p < base + span && ok; p++) ok = await portFree(p);
    if (ok) return base;
  }
  throw new Error('no free port range found');
}

export interface Regions extends Cluster {
  dataDir: string;
  accountsFile: string;
  cacheDir(region: RegionId): string;
}

/**
 * s3rver + origin processes for `regions` (no edge). Ports: s3 = basePort, regions basePort+1…+6
 * in REGION_IDS order; 'auto' picks a free range (basePort+20…+31 stay free for spawnOrigin).
 */
export async function startRegions(
  basePort: number | 'auto',
  accounts: (s3Port: number) => unknown,
  regions: RegionId[],
  extra: Partial<ClusterOptions> = {},
): Promise<Regions & { basePort: number }> {
  if (basePort === 'auto') basePort = await freePortBase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pixmesh-origin-test-'));
  const accountsFile = path.join(dataDir, 'accounts.json');
  fs.writeFileSync(accountsFile, JSON.stringify(accounts(basePort), null, 2));
  const regionPorts = Object.fromEntries(REGION_IDS.map((id, i) => [id, basePort + 1 + i])) as Record<RegionId, number>;
  const cluster = await startCluster({
    dataDir,
    accountsFile,
    s3Port: basePort,
    regionPorts,
    regions,
    edge: false,
    logs: { dir: path.join(dataDir, 'logs') },
    ...extra,
    originEnv: { PIXMESH_LOG: 'info', ...extra.originEnv },
  });
  return { ...cluster, basePort, dataDir, accountsFile, cacheDir: (r) => path.join(dataDir, 'cache', r) };
}

export async function stopRegions(r: Regions | undefined): Promise<void> {
  if (!r) return;
  await r.stop();
  if (!process.env.PIXMESH_KEEP_TEST_DATA) fs.rmSync(r.dataDir, { recursive: true, force: true });
}

/** Every file under a folder (recursive), sizes included. */
export function filesUnder(dir: string): { file: string; size: number }[] {
  if (!fs.existsSync(dir)) return [];
  const out: { file: string; size: number }[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const file = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
    out.push({ file, size: fs.statSync(file).size });
  }
  return out;
}

/** Prometheus text → value of one series (labels matched as a subset), or 0. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+([-+\d.eE]+|NaN)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[3] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) total += Number(m[4]);
  }
  return total;
}

export interface SpawnedOrigin {
  url: string;
  child: import('node:child_process').ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  log(): string;
}

/** One origin process outside the cluster (for shutdown tests that need its exit code). */
export async function spawnOrigin(regions: Regions, region: RegionId, port: number, env: Record<string, string> = {}): Promise<SpawnedOrigin> {
  const { spawn } = await import('node:child_process');
  const logFile = path.join(regions.dataDir, 'logs', `spawned-${region}-${port}.log`);
  const fd = fs.openSync(logFile, 'a');
  const urls = { ...regions.regionUrls, [region]: `http://127.0.0.1:${port}` };
  const child = spawn(process.execPath, ORIGIN_ARGV, {
    env: {
      ...process.env,
      PIXMESH_REGION: region,
      PORT: String(port),
      PIXMESH_ACCOUNTS: regions.accountsFile,
      PIXMESH_DATA_DIR: regions.dataDir,
      PIXMESH_CACHE_DIR: path.join(regions.dataDir, 'cache', `${region}-${port}`),
      PIXMESH_INTERNAL_SECRET: regions.internalSecret,
      PIXMESH_REGION_URLS: JSON.stringify(urls),
      PIXMESH_S3_ENDPOINT: regions.s3Url,
      PIXMESH_S3_ACCESS_KEY_ID: 'S3RVER',
      PIXMESH_S3_SECRET_ACCESS_KEY: 'S3RVER',
      ...env,
    },
    stdio: ['ignore', fd, fd],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = urls[region];
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`origin exited early: ${fs.readFileSync(logFile, 'utf8')}`);
    const ok = await fetch(`${url}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > deadline) throw new Error('spawned origin did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, child, exited, log: () => fs.readFileSync(logFile, 'utf8') };
}
